"""`make lint`'s dependency audit: pip-audit over every locked requirement.

A known vulnerability fails with the package, its version, the advisory and the fixed versions.
The advisory service must first prove it answers: a canary pin with published advisories
(jinja2 2.4.1) has to come back vulnerable. pip-audit itself reports "no known
vulnerabilities" when PyPI's JSON API answers 404 for everything, as it does on these machines,
so without the canary an unreachable service would look like a clean audit. When the canary
fails, this says so and passes: an audit that could not run is not a finding.

    uv run python tools/audit_dependencies.py [--service pypi|osv]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CANARY = "jinja2==2.4.1"  # PYSEC-2014-8, PYSEC-2019-217 and more: any live service knows it
TIMEOUT_SECONDS = 15


def audit(requirements: Path, service: str) -> dict[str, Any] | None:
    """pip-audit's JSON report, or None when it could not produce one."""
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip_audit",
            "--requirement",
            str(requirements),
            "--no-deps",  # the lock already lists every package, pinned
            "--disable-pip",
            "--vulnerability-service",
            service,
            "--timeout",
            str(TIMEOUT_SECONDS),
            "--progress-spinner",
            "off",
            "--format",
            "json",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        sys.stderr.write(f"audit: pip-audit gave no report ({last[:300]})\n")
        return None
    return report


def vulnerable(report: dict[str, Any]) -> list[str]:
    findings = []
    for dependency in report.get("dependencies", []):
        for advisory in dependency.get("vulns", []):
            fixed = ", ".join(advisory.get("fix_versions", [])) or "no fixed release"
            findings.append(
                f"{dependency['name']} {dependency.get('version', '?')}: {advisory['id']} "
                f"(fixed in {fixed})"
            )
    return findings


def locked_requirements(into: Path) -> None:
    subprocess.run(
        [
            "uv",
            "export",
            "--frozen",
            "--all-packages",
            "--no-emit-workspace",
            "--no-hashes",
            "--quiet",
            "--output-file",
            str(into),
        ],
        cwd=ROOT,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    options = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    options.add_argument("--service", choices=("pypi", "osv"), default="pypi")
    args = options.parse_args(argv)
    with tempfile.TemporaryDirectory() as work:
        canary = Path(work, "canary.txt")
        canary.write_text(CANARY + "\n", encoding="utf-8")
        canary_report = audit(canary, args.service)
        if canary_report is None or not vulnerable(canary_report):
            sys.stdout.write(
                f"audit: NOT RUN: the advisory service ({args.service}) did not answer "
                f"(the canary {CANARY} did not come back vulnerable); not a failure\n"
            )
            return 0
        requirements = Path(work, "requirements.txt")
        locked_requirements(requirements)
        report = audit(requirements, args.service)
    if report is None:
        sys.stdout.write("audit: NOT RUN: pip-audit failed on the locked requirements\n")
        return 0
    audited = len(report.get("dependencies", []))
    findings = vulnerable(report)
    for finding in findings:
        sys.stdout.write(f"audit: VULNERABLE {finding}\n")
    skipped = [d["name"] for d in report.get("dependencies", []) if d.get("skip_reason")]
    if skipped:
        sys.stdout.write(f"audit: not audited (unknown to {args.service}): {skipped}\n")
    sys.stdout.write(f"audit: {audited} locked packages, {len(findings)} known vulnerabilities\n")
    return 1 if findings else 0


if __name__ == "__main__":
    raise SystemExit(main())
