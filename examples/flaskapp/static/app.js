// Says how the page's assets arrived, once it has loaded.
addEventListener("load", () => {
  const lines = performance.getEntriesByType("resource").map((entry) => {
    return `${new URL(entry.name).pathname}: ${entry.initiatorType}`;
  });
  document.querySelector("#delivery").textContent = lines.join(", ");
});
