"""
Packaging for txpush: HTTP/2 server push, cache-aware push and Early Hints
for Twisted Web.
"""

from pathlib import Path

from setuptools import setup

DOCS_REQUIRES = [
    "sphinx>=8,<10",
    "furo>=2024.8",
    "myst-parser>=4,<6",
    "pydoctor>=24.11",
    "klein>=24.8",
]

setup(
    name="txpush",
    version="0.1.0.dev0",
    description=(
        "HTTP/2 server push, cache-aware push and Early Hints for Twisted Web"
    ),
    long_description=Path("README.md").read_text(encoding="utf-8"),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    # twisted.plugins holds only the txpush_plugin.py dropin: it has no
    # __init__.py of its own, and installs beside Twisted's plugins.
    packages=["txpush", "txpush._twisted", "txpush.testing", "twisted.plugins"],
    package_data={"txpush": ["py.typed", "demo/*"]},
    install_requires=[
        # txpush extends Twisted's private HTTP/2 internals
        # (twisted.web._http2): the releases it is tested on, the same as
        # TESTED_TWISTED in txpush/_twisted/compat.py (a test compares them).
        "Twisted[http2,tls]>=22.4.0,<26.11",
        "h2>=4.1,<5",
        "hyperframe>=6,<7",
        "pyOpenSSL>=25.0",
        "service_identity>=24.1",
        "cryptography>=44",
        "zope.interface>=6",
        "attrs>=24",
    ],
    extras_require={
        "docs": DOCS_REQUIRES,
        "bench": ["matplotlib>=3.8,<4", "hypercorn>=0.18,<0.19", "starlette", "py-spy"],
        "test": [
            "pytest>=8",
            "hypothesis>=6.100",
            "pytest-benchmark>=5",
            "mypy>=2.4,<3",
            "mypy-zope>=1.0",
            "ruff>=0.17,<0.18",
            # The WSGI applications twist txpush --wsgi is tested with, and
            # the WSGI server that runs them as a --proxy backend.
            "flask>=3.1,<4",
            "django>=5.2,<6",
            "gunicorn>=23,<28",
            # The documentation is built, and its examples run, by the tests.
            *DOCS_REQUIRES,
        ],
    },
    classifiers=[
        "Framework :: Twisted",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3.11",
        "Topic :: Internet :: WWW/HTTP :: HTTP Servers",
    ],
)
