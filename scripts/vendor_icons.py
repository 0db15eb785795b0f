"""Regenerate connectors/icons/*.svg from pinned npm packages (needs ``npm``).

    uv run python scripts/vendor_icons.py

The icons are copied, not fetched at run time: nothing the workspace serves comes from a
CDN. Each entry of ``ICONS`` names the package and the icon in it; change a version here,
run the script, look at the icons, and commit the result with connectors/icons/NOTICE.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "connectors" / "icons"

PACKAGES = {
    "logos": "@iconify-json/logos@1.2.20",  # SVG Logos by Gil Barbara, CC0-1.0
    "simple-icons": "simple-icons@16.37.0",  # CC0-1.0
    "lucide": "lucide-static@1.87.0",  # ISC
}

#: file name (without .svg) → (package, icon name in it)
ICONS: dict[str, tuple[str, str]] = {
    # brands: the apps Cellwright ships and the planned ones the templates name
    "slack": ("logos", "slack-icon"),  # simple-icons no longer carries Slack
    "monday": ("logos", "monday-icon"),  # … nor monday.com
    "wordpress": ("logos", "wordpress-icon"),
    "google_workspace": ("logos", "google-icon"),
    "shopify": ("logos", "shopify"),
    "mailchimp": ("logos", "mailchimp-icon"),
    "stripe": ("simple-icons", "stripe"),  # SVG Logos has only Stripe's wordmark
    "hubspot": ("simple-icons", "hubspot"),  # … and HubSpot's
    # built-ins and the notebook's own kinds of step
    "webhook": ("lucide", "webhook"),
    "schedule": ("lucide", "clock"),
    "manual": ("lucide", "play"),
    "http": ("lucide", "globe"),
    "formatter": ("lucide", "wand-sparkles"),
    "smtp": ("lucide", "mail"),
    "data_store": ("lucide", "database"),
    "ai": ("lucide", "sparkles"),
    "code": ("lucide", "code-xml"),
    "router": ("lucide", "split"),
    "filter": ("lucide", "filter"),
    "loop": ("lucide", "repeat"),
    "aggregate": ("lucide", "sigma"),
    "plug": ("lucide", "plug"),  # apps that declare no icon of their own
    "more": ("lucide", "ellipsis"),  # the flow diagram's collapsed run of steps
    "empty": ("lucide", "circle-dashed"),  # … and its empty branch
}

LUCIDE_COLOUR = "#374151"  # an <img> has no currentColor: built-ins are drawn in dark grey


def unpack(spec: str, into: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit(
            "npm is not installed: install Node.js (apt-get install -y npm), then run this again."
        )
    subprocess.run(  # noqa: S603 - pinned specs from this file
        [npm, "pack", spec, "--pack-destination", str(into), "--silent"],
        check=True,
        capture_output=True,
    )
    tarball = next(
        p for p in into.glob("*.tgz") if spec.lstrip("@").split("@")[0].replace("/", "-") in p.name
    )
    target = into / tarball.stem
    with tarfile.open(tarball) as archive:
        archive.extractall(target, filter="data")
    return target / "package"


def from_logos(root: Path, name: str) -> str:
    data = json.loads((root / "icons.json").read_text())
    icon = data["icons"][name]
    width, height = (
        icon.get("width", data.get("width", 16)),
        icon.get("height", data.get("height", 16)),
    )
    return (
        '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 '
        f'0 {width} {height}">{icon["body"]}</svg>\n'
    )


def from_simple_icons(root: Path, name: str) -> str:
    colours = {
        entry["slug"]: entry["hex"]
        for entry in json.loads((root / "data" / "simple-icons.json").read_text())
    }
    svg = (root / "icons" / f"{name}.svg").read_text().strip()
    svg = re.sub(r"<title>.*?</title>", "", svg).replace(' role="img"', "")
    return svg.replace("<path ", f'<path fill="#{colours[name]}" ', 1) + "\n"


def from_lucide(root: Path, name: str) -> str:
    svg = (root / "icons" / f"{name}.svg").read_text()
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r'\s*class="[^"]*"', "", svg).replace("currentColor", LUCIDE_COLOUR)
    return re.sub(r"\s+", " ", svg).replace("> <", "><").strip() + "\n"


def main() -> None:
    readers = {"logos": from_logos, "simple-icons": from_simple_icons, "lucide": from_lucide}
    with tempfile.TemporaryDirectory() as tmp:
        roots = {key: unpack(spec, Path(tmp)) for key, spec in PACKAGES.items()}
        for file, (package, name) in ICONS.items():
            (OUT / f"{file}.svg").write_text(readers[package](roots[package], name))
        # ISC for Lucide, MIT for its icons derived from Feather
        # (clock, play, globe…): kept verbatim
        (OUT / "LICENSE-lucide.txt").write_text((roots["lucide"] / "LICENSE").read_text())
    print(f"wrote {len(ICONS)} icons to {OUT.relative_to(ROOT)}")  # noqa: T201


if __name__ == "__main__":
    main()
