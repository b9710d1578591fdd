"""
Push manifests: their format, how pages are matched, and the message of
every mistake, with its file and line.
"""

import json
import os
import re
import tempfile
from pathlib import Path
from types import MappingProxyType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from txpush.assets import Asset, asset
from txpush.linkheader import OtherOrigin
from txpush.manifest import Manifest, ManifestError, loadManifest


def test_fromMapping():
    """
    Assets are paths, typed by their extension, or objects with a C{"path"}
    and an optional C{"as"} (lower-cased); pages keep their order.
    """
    manifest = Manifest.fromMapping(
        {
            "/index.html": ["/style.css", "/app.js?v=2"],
            "/about/": [
                "/style.css",
                {"path": "/font.woff2", "as": "FONT"},
                {"path": "/data"},
                {"path": "/x.css", "as": "fetch"},
            ],
        }
    )
    assert manifest.pages == (b"/index.html", b"/about/")
    assert len(manifest) == 2
    assert manifest.assetsFor(b"/index.html") == (
        Asset(b"/style.css", "style"),
        Asset(b"/app.js?v=2", "script"),
    )
    assert manifest.assetsFor(b"/about/") == (
        Asset(b"/style.css", "style"),
        Asset(b"/font.woff2", "font"),
        Asset(b"/data", None),
        Asset(b"/x.css", "fetch"),
    )


def test_emptyManifest():
    """
    C{{}} is a valid manifest without pages, and so is a page without assets.
    """
    empty = Manifest.fromMapping({})
    assert len(empty) == 0
    assert empty.pages == ()
    assert empty.assetsFor(b"/") == ()
    assert Manifest.fromMapping({"/": []}).assetsFor(b"/") == ()
    assert Manifest() == empty


def test_duplicateAssetsKeptOnce():
    """
    An asset listed twice for a page is kept where it first appears, with
    its first type.
    """
    manifest = Manifest.fromMapping(
        {"/": ["/a.css", "/b.js", {"path": "/a.css", "as": "fetch"}, "/b.js"]}
    )
    assert manifest.assetsFor(b"/") == (asset("/a.css"), asset("/b.js"))


@pytest.mark.parametrize(
    ("keys", "requested", "found"),
    [
        (["/docs/index.html"], b"/docs/index.html", "/docs/index.html"),
        (["/docs/index.html"], b"/docs/", "/docs/index.html"),
        (["/docs/index.html"], b"/docs/?page=2", "/docs/index.html"),
        (["/docs/index.html"], b"/docs", None),
        (["/docs/"], b"/docs/", "/docs/"),
        (["/docs/"], b"/docs/index.html", None),
        (["/docs/", "/docs/index.html"], b"/docs/", "/docs/"),
        (["/docs/", "/docs/index.html"], b"/docs/index.html", "/docs/index.html"),
        (["/"], b"/", "/"),
        (["/"], b"/index.html", None),
        (["/index.html"], b"/", "/index.html"),
        (["/index.html"], b"/?q=1", "/index.html"),
        (["/a.html"], b"/a.html?x=/", "/a.html"),
        (["/a.html"], b"/A.HTML", None),
        (["/caf%C3%A9/"], b"/caf%C3%A9/", "/caf%C3%A9/"),
        (["/a.html"], b"/b.html", None),
    ],
)
def test_assetsFor(keys, requested, found):
    """
    The exact key first, without the query; then, for a directory, its
    C{index.html}; no case folding; no match gives no assets.
    """
    manifest = Manifest.fromMapping(
        {key: [f"/asset{index}.css"] for index, key in enumerate(keys)}
    )
    expected = () if found is None else (asset(f"/asset{keys.index(found)}.css"),)
    assert manifest.assetsFor(requested) == expected


def test_directConstruction():
    """
    A manifest can be made from bytes keys and assets; it keeps a read-only
    copy, and compares and hashes as a value.
    """
    source = {b"/": [asset("/a.css")]}
    manifest = Manifest(source)
    source[b"/x"] = []
    assert manifest.pages == (b"/",)
    assert manifest.assetsFor(b"/") == (asset("/a.css"),)
    assert isinstance(manifest.assetsByPage, MappingProxyType)
    with pytest.raises(TypeError):
        manifest.assetsByPage[b"/y"] = ()  # type: ignore[index]
    assert manifest == Manifest.fromMapping({"/": ["/a.css"]})
    assert manifest != Manifest.fromMapping({"/": ["/b.css"]})
    assert hash(manifest) == hash(Manifest.fromMapping({"/": ["/a.css"]}))


@pytest.mark.parametrize(
    ("assetsByPage", "error"),
    [
        ({"/": ()}, TypeError),
        ({b"/": ["/a.css"]}, TypeError),
        ({b"index.html": ()}, ValueError),
        ({b"/a?b": ()}, ValueError),
        ({b"/a/../b": ()}, ValueError),
    ],
)
def test_directConstructionChecks(assetsByPage, error):
    """
    Keys must be bytes page paths and values assets.
    """
    with pytest.raises(error):
        Manifest(assetsByPage)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ([], "the manifest is a list, not an object"),
        ("x", "the manifest is a string, not an object"),
        ({3: []}, r"page 3 is a number \(3\), not a path"),
        (
            {"index.html": []},
            'page "index.html" is not an absolute path: write it as "/index.html"',
        ),
        ({"/a?b=1": []}, 'page "/a\\?b=1" has a query.*write "/a"'),
        ({"/a/../b/": []}, 'page "/a/../b/" has a . or .. segment'),
        ({"/a/%2e%2e/b/": []}, r"page \"/a/%2e%2e/b/\" has a \. or \.\. segment"),
        ({"//host/": []}, 'page "//host/" is scheme-relative'),
        ({"/caf\u00e9/": []}, 'page "/caf\u00e9/" holds non-ASCII.*"/caf%C3%A9/"'),
        ({"/": "/a.css"}, r'the assets of page "/" are a string, not a list'),
        ({"/": {"path": "/a.css"}}, 'the assets of page "/" are an object, not a'),
        ({"/": None}, 'the assets of page "/" are null, not a list'),
        ({"/": [3]}, 'an asset of page "/" is a number \\(3\\), not a path or an'),
        ({"/": [None]}, 'an asset of page "/" is null, not a path'),
        ({"/": [["/a.css"]]}, 'an asset of page "/" is a list, not a path'),
        ({"/": [True]}, 'an asset of page "/" is true, not a path'),
        ({"/": [{}]}, 'an asset of page "/" is an object without a string "path"'),
        ({"/": [{"path": 3}]}, 'an object without a string "path"'),
        ({"/": [{"as": "font"}]}, 'an object without a string "path"'),
        (
            {"/": [{"path": "/a.css", "type": "style"}]},
            'an asset of page "/" has unknown key "type": give only "path" and',
        ),
        (
            {"/": [{"path": "/f.woff2", "as": None}]},
            'the "as" of asset "/f.woff2" of page "/" is null, not a string',
        ),
        (
            {"/": [{"path": "/f.woff2", "as": ["font"]}]},
            'the "as" of asset "/f.woff2" of page "/" is a list, not a string',
        ),
        (
            {"/": [{"path": "/f.woff2", "as": "a font"}]},
            'the "as" of asset "/f.woff2" of page "/", "a font", is not a preload',
        ),
        (
            {"/index.html": ["style.css"]},
            'asset "style.css" of page "/index.html" is not an absolute path: '
            'write it as "/style.css"',
        ),
        ({"/": [""]}, 'asset "" of page "/" is empty'),
        ({"/": ["//cdn.example/a.css"]}, 'asset "//cdn.example/a.css" .*scheme-rel'),
        ({"/": ["https://cdn.example/a.css"]}, 'asset ".*" of page "/" is a URL'),
        ({"/": ["../a.css"]}, 'asset "../a.css" of page "/" climbs with \\.\\.'),
        ({"/": ["/a/../../b.css"]}, "has a . or .. segment"),
        ({"/": ["/a/./b.css"]}, "has a . or .. segment"),
        ({"/": ["/%2e%2e/b.css"]}, "has a . or .. segment"),
        ({"/": ["/%2E./b.css"]}, "has a . or .. segment"),
        ({"/": ["/a\\b.css"]}, "holds '\\\\\\\\'"),
        ({"/": ["/a%5cb.css"]}, "encoded backslash"),
        ({"/": ["/a b.css"]}, "holds spaces"),
        ({"/": ["/a.css#x"]}, "has a fragment"),
        ({"/": ["/a,b.css"]}, "holds ','"),
        ({"/": ["/caf\u00e9.css"]}, 'holds non-ASCII.*as "/caf%C3%A9.css"'),
        ({"/": ["/" + "a" * 2048]}, "longer than 2048 bytes"),
    ],
)
def test_fromMappingErrors(mapping, message):
    """
    Every mistake is a L{ManifestError}, a L{ValueError}, whose one-line
    message says what is wrong; without a file, there is no file or line.
    """
    with pytest.raises(ManifestError, match=message) as info:
        Manifest.fromMapping(mapping)
    error = info.value
    assert isinstance(error, ValueError)
    assert error.path is None and error.line is None
    assert str(error) == error.reason
    assert "\n" not in str(error)


def write(tmp_path, text, name="manifest.json"):
    """
    Write a manifest file and return its path.
    """
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    return path


def loadError(path, siteRoot=None, **options):
    """
    The error that loading C{path} raises.
    """
    with pytest.raises(ManifestError) as info:
        loadManifest(path, siteRoot, **options)
    assert "\n" not in str(info.value)
    assert info.value.path == path
    return info.value


def test_loadManifest(tmp_path):
    """
    A file holds the same JSON that L{Manifest.fromMapping} takes.
    """
    data = {"/": ["/a.css", {"path": "/f.woff2", "as": "font"}], "/b/": []}
    assert loadManifest(write(tmp_path, json.dumps(data))) == Manifest.fromMapping(data)
    assert len(loadManifest(write(tmp_path, " {}\n"))) == 0


def test_pathsAsStrings(tmp_path, monkeypatch):
    """
    The manifest file and the site root may be given as L{str}, relative or
    not, or as any path object; errors name the file as given.
    """
    root = tmp_path / "site"
    root.mkdir()
    write(tmp_path, '{"/": ["/a.css"]}', "push.json")
    monkeypatch.chdir(tmp_path)
    expected = Manifest.fromMapping({"/": ["/a.css"]})
    assert loadManifest("push.json") == expected
    assert loadManifest("push.json", "site") == expected
    assert loadManifest(str(tmp_path / "push.json"), str(root)) == expected

    class Place(os.PathLike):
        def __init__(self, path):
            self.path = path

        def __fspath__(self):
            return self.path

    assert loadManifest(Place("push.json"), Place("site")) == expected
    assert loadManifest("push.json").sourceOf(b"/", b"/a.css") == "push.json, line 1"
    write(tmp_path, '{"/": ["/../a.css"]}', "bad.json")
    with pytest.raises(ManifestError, match=r"^bad\.json, line 1: ") as info:
        loadManifest("bad.json", "site")
    assert info.value.path == Path("bad.json")
    with pytest.raises(ManifestError, match=r"^absent\.json: cannot read"):
        loadManifest("absent.json")


def test_byteOrderMark(tmp_path):
    """
    A UTF-8 byte order mark, as some editors write, is allowed.
    """
    path = write(tmp_path, b'\xef\xbb\xbf{"/": ["/a.css"]}')
    assert loadManifest(path).assetsFor(b"/") == (asset("/a.css"),)


def test_missingFile(tmp_path):
    """
    A missing file is named, with a pointer to the option that gave it.
    """
    path = tmp_path / "nowhere.json"
    error = loadError(path)
    assert str(error) == (
        f"{path}: cannot read the push manifest (No such file or directory): "
        "check the path given with --push-manifest"
    )
    assert error.line is None


def test_unreadableFile(tmp_path):
    """
    A directory, or a file that cannot be read, is reported the same way.
    """
    error = loadError(tmp_path)
    assert str(error).startswith(f"{tmp_path}: cannot read the push manifest (")
    assert "--push-manifest" in str(error)


def test_notUTF8(tmp_path):
    """
    Bytes that are not UTF-8 are reported with their line.
    """
    path = write(tmp_path, b'{\n  "/": ["/a.css"],\n  "/b": ["/caf\xe9.css"]\n}')
    error = loadError(path)
    assert str(error) == (
        f"{path}, line 3: not UTF-8 text (byte 0xe9): save the file as UTF-8"
    )
    assert error.line == 3


def test_notJSON(tmp_path):
    """
    JSON syntax errors give the decoder's line and column.
    """
    path = write(tmp_path, '{\n  "/": ["/a.css",\n  ]\n}')
    error = loadError(path)
    assert error.line == 3
    assert str(error) == (
        f"{path}, line 3: not valid JSON (Expecting value at column 3): fix the syntax"
    )


def test_notAnObject(tmp_path):
    """
    A top level that is not an object is reported where it starts.
    """
    path = write(tmp_path, '\n\n  ["/a.css"]\n')
    error = loadError(path)
    assert error.line == 3
    assert str(error) == (
        f"{path}, line 3: the manifest is a list, not an object: write "
        '{"/page.html": ["/style.css", ...], ...}'
    )


def test_duplicatePage(tmp_path):
    """
    A page listed twice is reported at its second key, rather than silently
    losing the first list.
    """
    path = write(tmp_path, '{\n  "/": ["/a.css"],\n  "/b": [],\n  "/": ["/b.css"]\n}')
    error = loadError(path)
    assert error.line == 4
    assert str(error) == (
        f'{path}, line 4: key "/" appears twice in one object: merge the two '
        "entries into one"
    )


def test_tooDeep(tmp_path):
    """
    JSON nested beyond what the decoder can take is an error, not a crash.
    """
    path = write(tmp_path, "[" * 100000 + "]" * 100000)
    assert "nested too deeply" in str(loadError(path))


_EXAMPLE = """\
{
  "/index.html": [
    "/style.css",
    "style.css"
  ]
}
"""


def test_exampleMessage(tmp_path):
    """
    The message names the file and the line, what is wrong, what to write.
    """
    error = loadError(write(tmp_path, _EXAMPLE))
    assert error.line == 4
    assert str(error) == (
        f'{tmp_path / "manifest.json"}, line 4: asset "style.css" of page '
        '"/index.html" is not an absolute path: write it as "/style.css"'
    )
    assert error.reason == str(error).split(": ", 1)[1]


_LINES = """\
{
  "/": ["/a.css", "/b.js"],
  "/docs/": [
    "/a.css",
    {"path": "/f.woff2",
     "as": "font"},
    "/docs.js"
  ],
  "/about/": ["/a.css"]
}
"""


@pytest.mark.parametrize(
    ("old", "new", "line", "message"),
    [
        ('"/about/"', '"about/"', 9, 'page "about/" is not an absolute path'),
        ('"/docs/"', '"/docs/../x/"', 3, "has a . or .. segment"),
        ('"/docs/"', '"/d\u00e9/"', 3, "holds non-ASCII"),
        ('["/a.css"]\n}', '"/a.css"\n}', 9, "are a string, not a list"),
        ('"/b.js"', '"b.js"', 2, 'asset "b.js" of page "/"'),
        ('"/docs.js"', '"docs.js"', 7, 'write it as "/docs.js"'),
        ('"/docs.js"', "42", 7, "is a number \\(42\\)"),
        ('"/docs.js"', "null", 7, "is null, not a path"),
        ('"font"', "3", 5, 'the "as" of asset "/f.woff2" of page "/docs/"'),
        ('"font"', '"FONT FACE"', 5, '"FONT FACE", is not a preload'),
        ('"path": "/f.woff2"', '"path": 1', 5, 'without a string "path"'),
        ('"as":', '"As":', 5, 'unknown key "As"'),
        ('"/f.woff2"', '"/f.woff2#x"', 5, "has a fragment"),
        ('"/f.woff2"', '"/%2e%2e/f.woff2"', 5, "segment"),
        ('"/f.woff2"', '"\\/f.woff2?a,b"', None, "holds ','"),
    ],
)
def test_lines(tmp_path, old, new, line, message):
    """
    Mistakes in a manifest's values are reported at their line, found by
    searching the text from the page's key on.
    """
    assert old in _LINES
    path = write(tmp_path, _LINES.replace(old, new, 1))
    error = loadError(path)
    assert error.line == line
    assert error.path == path
    if line is None:
        assert str(error).startswith(f"{path}: ")
    else:
        assert str(error).startswith(f"{path}, line {line}: ")
    assert re.search(message, str(error))


def test_assetRepeatedInAnEarlierPage(tmp_path):
    """
    The search starts at the page's key, so an asset that an earlier page
    lists too is found on the right line.
    """
    text = (
        '{\n  "/": ["/f.woff2"],\n  "/b/": [\n    "/c.css",\n'
        '    {"path": "/f.woff2", "as": 3}\n  ]\n}'
    )
    path = write(tmp_path, text)
    assert loadError(path).line == 5


def test_sourceOf(tmp_path):
    """
    L{Manifest.sourceOf} names the file and the line of a page's asset,
    finding the page as L{Manifest.assetsFor} does, and L{None} for an
    asset the page does not list.
    """
    path = write(tmp_path, _LINES)
    manifest = loadManifest(path)
    assert manifest.sourceOf(b"/", b"/b.js") == f"{path}, line 2"
    assert manifest.sourceOf(b"/docs/?x=1", b"/a.css") == f"{path}, line 4"
    assert manifest.sourceOf(b"/docs/", b"/f.woff2") == f"{path}, line 5"
    assert manifest.sourceOf(b"/docs/", b"/docs.js") == f"{path}, line 7"
    assert manifest.sourceOf(b"/about/", b"/a.css") == f"{path}, line 9"
    assert manifest.sourceOf(b"/about/", b"/b.js") is None
    assert manifest.sourceOf(b"/nowhere", b"/a.css") is None
    index = loadManifest(write(tmp_path, '{\n"/d/index.html": [\n"/i.css"]}'))
    assert index.sourceOf(b"/d/", b"/i.css") == f"{tmp_path / 'manifest.json'}, line 3"
    assert index.sourceOf(b"/d", b"/i.css") is None


def test_sourceOfRepeatedAsset(tmp_path):
    """
    An asset listed twice for one page is kept where it first appears, and
    so is its line.
    """
    path = write(tmp_path, '{"/": [\n"/a.css",\n"/b.js",\n"/a.css"]}')
    assert loadManifest(path).sourceOf(b"/", b"/a.css") == f"{path}, line 2"


def test_sourceOfWithoutFile():
    """
    A manifest made from a mapping, or constructed directly, says
    C{"the manifest"}; where it came from takes no part in equality.
    """
    manifest = Manifest.fromMapping({"/": ["/a.css"]})
    assert manifest.sourceOf(b"/", b"/a.css") == "the manifest"
    assert manifest.sourceOf(b"/", b"/b.css") is None
    assert Manifest({b"/": (asset("/a.css"),)}).sourceOf(b"/", b"/a.css") == (
        "the manifest"
    )
    located = Manifest(manifest.assetsByPage, "push.json", {(b"/", b"/a.css"): 3})
    assert located.sourceOf(b"/", b"/a.css") == "push.json, line 3"
    assert Manifest(manifest.assetsByPage, "push.json").sourceOf(b"/", b"/a.css") == (
        "push.json"
    )
    assert located == manifest
    assert hash(located) == hash(manifest)


def test_insideSiteRoot(tmp_path):
    """
    With a site root, paths that stay inside it are accepted, whether the
    files exist or not.
    """
    root = tmp_path / "site"
    (root / "css").mkdir(parents=True)
    (root / "css" / "a.css").write_text("")
    path = write(tmp_path, '{"/": ["/css/a.css", "/gone.js", "/x%20y.css?v=/../.."]}')
    assert loadManifest(path, root).assetsFor(b"/") == (
        asset("/css/a.css"),
        asset("/gone.js"),
        asset("/x%20y.css?v=/../.."),
    )


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="needs symbolic links")
def test_outsideSiteRoot(tmp_path):
    """
    With a site root, a path that resolves outside it, through a symbolic
    link, is refused, page or asset, with where it leads.
    """
    root = tmp_path / "site"
    root.mkdir()
    (tmp_path / "secret").mkdir()
    (root / "shared").symlink_to(tmp_path / "secret")
    path = write(tmp_path, '{\n  "/": [\n    "/ok.css",\n    "/shared/x.css"\n  ]\n}')
    error = loadError(path, root)
    assert error.line == 4
    assert str(error) == (
        f'{path}, line 4: asset "/shared/x.css" of page "/" resolves to '
        f"{tmp_path.resolve() / 'secret' / 'x.css'}, which is outside the site "
        f"root {root.resolve()}: move the file into the site, or drop the entry"
    )
    page = write(tmp_path, '{"/shared/": []}', "pages.json")
    assert 'page "/shared/" resolves to' in str(loadError(page, root))
    assert len(loadManifest(path)) == 1


def servedSite(root):
    """
    A site: an index, a page in a directory with its index, a directory
    without one, a few assets.
    """
    for name in (
        "index.html",
        "about.html",
        "docs/index.html",
        "js/app.js",
        "css/site.css",
        "img/a b.png",
        "bare/x.txt",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("x")
    return root


def test_requireFiles(tmp_path):
    """
    With C{requireFiles}, pages that name files or directories with an
    index, and assets that name files, load; the query is ignored and the
    path percent-decoded.
    """
    root = servedSite(tmp_path / "site")
    path = write(
        tmp_path,
        json.dumps(
            {
                "/": ["/js/app.js?v=3", "/img/a%20b.png"],
                "/about.html": [{"path": "/css/site.css", "as": "style"}],
                "/docs/": ["/js/app.js"],
                "/docs/index.html": [],
                "/js/app.js": [],
            }
        ),
    )
    manifest = loadManifest(path, root, requireFiles=True)
    assert manifest == loadManifest(path, root)
    assert len(manifest) == 5


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (
            '"/": ["/js/ap.js"]',
            'asset "/js/ap.js" of page "/" names no file of the site root {root}: '
            'did you mean "/js/app.js"? fix the path, add the file, or drop the '
            "entry",
        ),
        (
            '"/": ["/img/a%20c.png?x"]',
            'asset "/img/a%20c.png?x" of page "/" names no file of the site root '
            '{root}: did you mean "/img/a%20b.png"? fix the path',
        ),
        (
            '"/": ["/zzzzzzzzzzzzzzzz.woff2"]',
            'asset "/zzzzzzzzzzzzzzzz.woff2" of page "/" names no file of the site '
            "root {root}: fix the path, add the file, or drop the entry",
        ),
        (
            '"/": ["/js"]',
            'asset "/js" of page "/" names a directory, not a file: name a file',
        ),
        (
            '"/": ["/js/"]',
            'asset "/js/" of page "/" names a directory, not a file',
        ),
        (
            '"/abuot.html": []',
            'page "/abuot.html" names no file of the site root {root}: did you '
            'mean "/about.html"?',
        ),
        (
            '"/doc/": []',
            'page "/doc/" names no file of the site root {root}: did you mean '
            '"/docs/"?',
        ),
        (
            '"/docs": []',
            'page "/docs" names a directory, which is redirected to its path with '
            'a / at the end: write "/docs/"',
        ),
        (
            '"/bare/": []',
            'page "/bare/" names a directory without an index.html, which is '
            "served as a directory listing: add {root}/bare/index.html, or name "
            "a page of the site",
        ),
        (
            '"/about.html/": []',
            'page "/about.html/" names no file of the site root {root}: did you '
            'mean "/about.html"?',
        ),
    ],
)
def test_requireFilesRefuses(tmp_path, entry, message):
    """
    With C{requireFiles}, a page or an asset that names nothing the site
    serves is refused at its line, with the closest path the site has.
    """
    root = servedSite(tmp_path / "site")
    path = write(tmp_path, '{\n  "/about.html": [],\n  ' + entry + "\n}")
    error = loadError(path, root, requireFiles=True)
    assert error.line == 3
    assert str(error).startswith(f"{path}, line 3: ")
    assert message.format(root=root.resolve()) in str(error)
    assert len(loadManifest(path, root)) == 2


def test_requireFilesOtherIndexNames(tmp_path):
    """
    A directory with the other index files that C{static.File} serves
    counts as a page too.
    """
    root = tmp_path / "site"
    for name in ("a/index.htm", "b/index"):
        (root / name).parent.mkdir(parents=True)
        (root / name).write_text("x")
    path = write(tmp_path, '{"/a/": [], "/b/": []}')
    assert len(loadManifest(path, root, requireFiles=True)) == 2


def test_requireFilesSuggestionsAreBounded(tmp_path, monkeypatch):
    """
    Suggestions come from a bounded walk of the site: past the bound, a file
    is not suggested, and the error comes all the same.
    """
    from txpush import manifest as module

    root = tmp_path / "site"
    (root / "a").mkdir(parents=True)
    (root / "z").mkdir()
    for index in range(5):
        (root / "a" / f"{index}.txt").write_text("x")
    (root / "z" / "app.js").write_text("x")
    (root / "index.html").write_text("x")
    path = write(tmp_path, '{"/": ["/z/ap.js"]}')
    message = str(loadError(path, root, requireFiles=True))
    assert 'did you mean "/z/app.js"?' in message
    monkeypatch.setattr(module, "_MAX_WALKED", 4)
    message = str(loadError(path, root, requireFiles=True))
    assert "names no file" in message
    assert "did you mean" not in message


def test_requireFilesNeedsASiteRoot(tmp_path):
    """
    C{requireFiles} without a site root is a mistake of the caller.
    """
    path = write(tmp_path, "{}")
    with pytest.raises(ValueError, match="siteRoot"):
        loadManifest(path, requireFiles=True)


# Valid page paths and assets, as JSON text.
_SEGMENTS = st.text(alphabet="abcAZ09-_~.", min_size=1, max_size=6).filter(
    lambda segment: segment not in (".", "..")
)
_PAGES = st.lists(_SEGMENTS, max_size=3).map(lambda segments: "/" + "/".join(segments))
_PAGES = _PAGES | _PAGES.map(lambda page: page.rstrip("/") + "/")
_ASSET_PATHS = st.builds(
    lambda page, extension, query: page + extension + query,
    _PAGES,
    st.sampled_from(["", ".css", ".js", ".woff2", ".png", ".json", ".html"]),
    st.sampled_from(["", "?v=1", "?a=b&c=%2C"]),
)
_ENTRIES = st.one_of(
    _ASSET_PATHS,
    st.builds(lambda path: {"path": path}, _ASSET_PATHS),
    st.builds(
        lambda path, asType: {"path": path, "as": asType},
        _ASSET_PATHS,
        st.sampled_from(["style", "Script", "FONT", "image", "fetch", "track"]),
    ),
)


def _expected(entry):
    """
    The asset an entry stands for.
    """
    if isinstance(entry, str):
        return asset(entry)
    return asset(entry["path"], entry.get("as"))


@given(st.dictionaries(_PAGES, st.lists(_ENTRIES, max_size=6), max_size=5))
def test_anyValidMappingIsAccepted(mapping):
    """
    Every mapping of valid pages to valid assets is accepted, and each page
    gets its assets in order, each once; a file of the same JSON gives the
    same manifest.
    """
    manifest = Manifest.fromMapping(mapping)
    assert manifest.pages == tuple(page.encode() for page in mapping)
    for page, entries in mapping.items():
        expected = {}
        for entry in entries:
            made = _expected(entry)
            expected.setdefault(made.path, made)
        found = manifest.assetsFor(page.encode())
        assert found == tuple(expected.values())
        assert len({made.path for made in found}) == len(found)


@given(st.dictionaries(_PAGES, st.lists(_ENTRIES, max_size=4), max_size=4))
def test_fileRoundTrip(mapping):
    """
    A file of the same JSON, however indented, gives the same manifest.
    """
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "m.json"
        path.write_text(json.dumps(mapping, indent=2))
        assert loadManifest(path) == Manifest.fromMapping(mapping)


@given(st.binary(max_size=200))
def test_anyFileLoadsOrSaysWhy(raw):
    """
    Whatever the bytes of a manifest file, loading gives a manifest or a
    one-line L{ManifestError} that names the file.
    """
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "m.json"
        path.write_bytes(raw)
        try:
            loadManifest(path)
        except ManifestError as error:
            assert str(error).startswith(str(path))
            assert "\n" not in str(error)


def test_preconnectEntries():
    """
    An entry {"preconnect": ORIGIN} names another site's origin for the
    page's preconnect hints, crossorigin when asked; it is not an asset, and
    each origin is kept once.
    """
    manifest = Manifest.fromMapping(
        {
            "/index.html": [
                "/style.css",
                {"preconnect": "https://Fonts.Example/", "crossorigin": True},
                {"preconnect": "https://cdn.example:8443"},
                {"preconnect": "https://cdn.example:8443"},
            ]
        }
    )
    assert manifest.assetsFor(b"/") == (asset(b"/style.css"),)
    assert manifest.preconnectsFor(b"/") == (
        OtherOrigin(b"https://fonts.example", True),
        OtherOrigin(b"https://cdn.example:8443"),
    )
    assert manifest.preconnectsFor(b"/other") == ()


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"preconnect": "/style.css"}, "is not the origin of another site"),
        ({"preconnect": "https://cdn.example/a.css"}, "is not the origin"),
        ({"preconnect": "ftp://cdn.example"}, "is not the origin"),
        ({"preconnect": 3}, "a number"),
        (
            {"preconnect": "https://a.example", "crossorigin": "yes"},
            "not true or false",
        ),
        ({"preconnect": "https://a.example", "as": "font"}, 'unknown key "as"'),
    ],
)
def test_preconnectErrors(tmp_path, entry, message):
    """
    A preconnect entry that is not an origin, or has other keys, is refused
    with the file and line.
    """
    path = tmp_path / "push.json"
    path.write_text(json.dumps({"/index.html": ["/a.css", entry]}, indent=2))
    with pytest.raises(ManifestError, match=re.escape(message)) as info:
        loadManifest(path)
    assert info.value.path == path and info.value.line is not None
