// The demo's script: shows how this page's assets arrived.
addEventListener("load", () => {
  const entries = performance.getEntriesByType("resource");
  const lines = entries.map((entry) => {
    const path = new URL(entry.name).pathname;
    return `${path}: ${entry.initiatorType}`;
  });
  document.querySelector("#delivery span").textContent = lines.join(", ");
});
