"""axe-core inside the Playwright tests: every page a test opens can be checked the same way.

axe.min.js comes from the ``axe-core`` npm package, installed by ``scripts/install-axe.sh`` into
``.cache/axe-core`` (CI runs it; ``SHOP_AXE_JS`` points elsewhere). It is evaluated through the
browser's debugging protocol, which the page's Content-Security-Policy does not govern, so the
shop's strict policy stays on while axe looks at the page.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tests.browser_support import ARTIFACTS, _skip_or_fail

ROOT = Path(__file__).resolve().parent.parent
AXE_JS = ROOT / ".cache" / "axe-core" / "node_modules" / "axe-core" / "axe.min.js"
# WCAG 2.0 and 2.1, levels A and AA, plus axe's best-practice rules.
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]
RESULTS = ARTIFACTS / "axe"

_source: str | None = None


def axe_source() -> str:
    """The text of axe.min.js, or a skip (a failure when SHOP_REQUIRE_BROWSER=1, as in CI)."""
    global _source
    if _source is None:
        path = Path(os.environ.get("SHOP_AXE_JS") or AXE_JS)
        if not path.is_file():
            _skip_or_fail(f"axe-core not installed at {path}: run scripts/install-axe.sh")
        _source = path.read_text(encoding="utf-8")
    return _source


def axe_violations(page: Any) -> list[dict]:
    """Run axe over the page as it is now (menus open stay open) and return its violations."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.evaluate(axe_source())
    # Colours caught half-way through a CSS transition are neither state's colours: let them end.
    page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter((a) => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
            .map((a) => a.finished))"""
    )
    return page.evaluate(
        """(tags) => axe.run(document, {
            runOnly: {type: "tag", values: tags},
            resultTypes: ["violations"],
        }).then((r) => r.violations.map((v) => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
        })))""",
        TAGS,
    )


def describe(violations: list[dict]) -> str:
    lines = []
    for v in violations:
        lines.append(f"{v['id']} ({v['impact']}): {v['help']}")
        for node in v["nodes"][:5]:
            summary = " ".join((node["summary"] or "").split())
            lines.append(f"    {node['target']}: {summary[:300]}")
        if len(v["nodes"]) > 5:
            lines.append(f"    ... and {len(v['nodes']) - 5} more")
    return "\n".join(lines)


def check_page(page: Any, name: str) -> list[dict]:
    """axe over the page; the result is kept in test-artifacts/axe/<name>.json either way."""
    violations = axe_violations(page)
    RESULTS.mkdir(parents=True, exist_ok=True)
    record = {"page": name, "url": page.url, "violations": violations}
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=1), encoding="utf-8")
    return violations


def assert_accessible(page: Any, name: str) -> None:
    violations = check_page(page, name)
    assert not violations, f"axe on {name} ({page.url}):\n{describe(violations)}"
