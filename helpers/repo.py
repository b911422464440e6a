"""Where the series lives online: the one place badges and links are built from.

A fork changes ``OWNER``/``NAME``/``BRANCH`` here and runs ``make notebooks``; the
tests check that README.md and every notebook use these values.
"""

OWNER = "efficient-convolutions"
NAME = "efficient-convolutions-explained"
BRANCH = "main"
GITHUB = f"https://github.com/{OWNER}/{NAME}"


def colab_url(path: str) -> str:
    """Open-in-Colab address for a notebook path relative to the repo root."""
    return f"https://colab.research.google.com/github/{OWNER}/{NAME}/blob/{BRANCH}/{path}"


def binder_url(path: str = "notebooks") -> str:
    """Binder address that opens JupyterLab on ``path``."""
    return f"https://mybinder.org/v2/gh/{OWNER}/{NAME}/{BRANCH}?urlpath=lab/tree/{path}"


def colab_badge(path: str) -> str:
    """Markdown badge linking to :func:`colab_url`."""
    return f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]({colab_url(path)})"


def binder_badge(path: str = "notebooks") -> str:
    """Markdown badge linking to :func:`binder_url`."""
    return f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(path)})"
