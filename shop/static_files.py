"""Static files as shops serve them: fingerprinted names, cached for a year, gzip and Brotli.

``static/`` holds the files under their plain names. :func:`build` copies each one to a name that
carries its content hash (``css/shop.css`` -> ``css/shop.1a2b3c4d5e6f.css``), writes gzip and
Brotli copies beside the ones worth compressing, and a ``manifest.json`` mapping plain names to
fingerprinted ones. The build lives in ``SHOP_STATIC_BUILD_DIR`` (``instance/static``), one folder
per version of ``static/``; ``flask --app shop assets`` makes it (a step of ``make run``), and the
app builds it at start when it is missing or out of date, which takes a second or two.

WhiteNoise serves both: a fingerprinted name can never change its content, so it goes out with
``Cache-Control: max-age=31536000, public, immutable`` and a browser never asks again; a plain
name (a bookmark, an old page) is still served, with a minute's lifetime. Each is answered with the
precompressed copy the browser accepts (``br``, then ``gzip``). ``url_for('static', ...)`` gives
the fingerprinted address through a URL default, so templates need no change.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path

from flask import Flask
from whitenoise import WhiteNoise
from whitenoise.compress import Compressor
from whitenoise.string_utils import decode_path_info

log = logging.getLogger(__name__)

MANIFEST = "manifest.json"
HASH_CHARS = 12
YEAR = 365 * 24 * 3600
PLAIN_MAX_AGE = 60
#: Written by the seeder while the shop runs (thousands of small SVGs, ignored by git), so they are
#: not part of a build: they are served under their own names, which carry a digest of what the
#: picture shows, for a day (:data:`GENERATED_MAX_AGE`).
GENERATED = frozenset({"img/products"})
GENERATED_MAX_AGE = 24 * 3600
#: Versions of the build kept besides the newest: a page cached a few minutes ago (a proxy's
#: copy, a browser's back button) still finds the files it names after a deploy.
KEEP_OLD_VERSIONS = 2


def fingerprinted_name(name: str, content: bytes) -> str:
    """``css/shop.css`` -> ``css/shop.<first 12 hex of sha256>.css``."""
    digest = hashlib.sha256(content).hexdigest()[:HASH_CHARS]
    folder, _, base = name.rpartition("/")
    stem, dot, suffix = base.partition(".")  # "chart.umd.min.js": the hash goes after "chart"
    fingerprinted = f"{stem}.{digest}{dot}{suffix}" if dot else f"{stem}.{digest}"
    return f"{folder}/{fingerprinted}" if folder else fingerprinted


def plan(source: Path) -> dict[str, str]:
    """Every file under ``source`` (plain name -> fingerprinted name), leaving out dot files and
    the seeder's pictures (:data:`GENERATED`)."""
    names = {}
    for folder, subfolders, files in os.walk(source):
        relative_folder = Path(folder).relative_to(source).as_posix()
        subfolders[:] = [
            sub
            for sub in subfolders
            if not sub.startswith(".") and _join(relative_folder, sub) not in GENERATED
        ]
        for file in files:
            if not file.startswith("."):
                relative = _join(relative_folder, file)
                names[relative] = fingerprinted_name(relative, (Path(folder) / file).read_bytes())
    return dict(sorted(names.items()))


def _join(folder: str, name: str) -> str:
    return name if folder == "." else f"{folder}/{name}"


def version_of(names: dict[str, str]) -> str:
    """One name for this state of ``static/``: any added, removed or changed file changes it."""
    return hashlib.sha256(json.dumps(names, sort_keys=True).encode()).hexdigest()[:HASH_CHARS]


def build(source: Path, dest: Path) -> Path:
    """The build folder for the current ``static/`` under ``dest``, made if it is not there yet.

    Made in a temporary folder and renamed into place, so several processes starting at once
    (gunicorn's workers) never see half a build: the first rename wins, the others are dropped.
    """
    names = plan(source)
    version = dest / version_of(names)
    if (version / MANIFEST).is_file():
        return version
    dest.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".build-", dir=dest))
    work.chmod(0o755)  # mkdtemp makes it private; a web server in front may serve it too
    try:
        compressor = Compressor(quiet=True)
        for plain, fingerprinted in names.items():
            target = work / fingerprinted
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / plain, target)
            if compressor.should_compress(str(target)):
                for _ in compressor.compress(str(target)):  # writes .gz and .br when they pay
                    pass
        (work / MANIFEST).write_text(json.dumps({"files": names}, indent=1, sort_keys=True))
        try:
            os.rename(work, version)
            log.info("Built static files %s (%d files)", version.name, len(names))
        except OSError:  # another process put the same version in place first
            shutil.rmtree(work, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    _drop_old_versions(dest, keep=version)
    return version


def _drop_old_versions(dest: Path, keep: Path) -> None:
    versions = [p for p in dest.iterdir() if p.is_dir() and not p.name.startswith(".")]
    versions.sort(key=lambda p: p.stat().st_mtime, reverse=True)
    old = [p for p in versions if p != keep][KEEP_OLD_VERSIONS:]
    for path in old:
        shutil.rmtree(path, ignore_errors=True)


def read_manifest(version: Path) -> dict[str, str]:
    return json.loads((version / MANIFEST).read_text())["files"]


class StaticFiles(WhiteNoise):
    """WhiteNoise with a year for fingerprinted files (its default is ten), the seeder's pictures
    looked up on first request (they appear after the start), and the shop's ``nosniff`` header,
    which Flask's own hooks never see on these responses."""

    FOREVER = YEAR

    def __init__(self, application, source: Path, prefix: str, **kwargs) -> None:  # noqa: ANN001
        self.source = source
        self.prefix = prefix
        self.fingerprinted: set[str] = set()
        self.generated = tuple(f"{prefix}{folder}/" for folder in GENERATED)
        super().__init__(application, **kwargs)

    def add_build(self, version: Path, names: dict[str, str]) -> None:
        """Each file under its fingerprinted name and, for old links, its plain one; both are
        the build's copy, so both are answered compressed."""
        for plain, fingerprinted in names.items():
            self.fingerprinted.add(self.prefix + fingerprinted)
            for url in (self.prefix + fingerprinted, self.prefix + plain):
                self.add_file_to_dictionary(url, str(version / fingerprinted))

    def immutable_file_test(self, path: str, url: str) -> bool:
        return url in self.fingerprinted

    def add_cache_headers(self, headers, path: str, url: str) -> None:  # noqa: ANN001
        if url.startswith(self.generated):
            headers["Cache-Control"] = f"max-age={GENERATED_MAX_AGE}, public"
        else:
            super().add_cache_headers(headers, path, url)

    def __call__(self, environ, start_response):  # noqa: ANN001, ANN204
        url = decode_path_info(environ.get("PATH_INFO", ""))
        if url not in self.files and url.startswith(self.generated) and self.url_is_canonical(url):
            path = self.source / url[len(self.prefix) :]
            if path.is_file():
                self.add_file_to_dictionary(url, str(path))
        return super().__call__(environ, start_response)


def _nosniff(headers, path: str, url: str) -> None:  # noqa: ANN001
    headers["X-Content-Type-Options"] = "nosniff"


def register(app: Flask) -> None:
    """Serve ``static/`` through WhiteNoise and make ``url_for('static')`` fingerprinted."""
    source = Path(app.static_folder)
    version = build(source, Path(app.config["SHOP_STATIC_BUILD_DIR"]))
    names = read_manifest(version)
    static = StaticFiles(
        app.wsgi_app,
        source,
        app.static_url_path.rstrip("/") + "/",
        max_age=PLAIN_MAX_AGE,
        allow_all_origins=False,
        add_headers_function=_nosniff,
    )
    static.add_build(version, names)
    app.wsgi_app = static
    app.extensions["static_files"] = names

    @app.url_defaults
    def fingerprint_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = names.get(values["filename"], values["filename"])
