"""Time the letters: rendering (text and HTML) and the PDF on the letterhead (issue 12).

Renders each letter kind of the shipped templates (regime gdpr; vcdpa for the appeal outcome)
in every language, ``--repeat`` times each, and prints per kind the median render time and the
median PDF time, each as CPU time of this process (what the letter costs) and wall time (what
a loaded machine adds; the load average is printed), and the PDF's size; then the first render of a fresh renderer (templates
compiled, vocabulary read) and the first PDF (WeasyPrint imported, fonts loaded). Prints
figures; asserts nothing. ``--png FILE`` also writes the first page of one letter as a PNG
(pdftoppm, from scripts/ensure-weasyprint) to look at as the customer would.

    uv run python benchmarks/letters.py [--repeat N] [--png docs/img/letter.png]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from dsar.letters.manifest import LANGUAGES  # noqa: E402
from dsar.letters.render import LetterRenderer  # noqa: E402

RETAINED = "orders: 10 years (German Commercial Code s.257)"


def context(kind: str, regime: str) -> dict[str, Any]:
    """A full context, as the services give it (every kind takes what it names)."""
    return {
        "request": {
            "reference": "DSR-2026-000123",
            "type": "deletion" if kind in ("deletion_response", "partial_refusal", "recipient_notice") else "access",
            "regime": regime,
            "received": date(2026, 11, 2),
            "subject_name": "Jane Doe",
            "access_scope": "specific_pieces" if regime == "ccpa" else None,
        },
        "organisation": "Example Shop Ltd",
        "contact": "privacy@example-shop.test",
        "sent_on": date(2026, 11, 27),
        "due": date(2026, 12, 2),
        "code": "48213907",
        "link": "https://privacy.example-shop.test/verify/l/3q2-7wEAAAB2b3VjaGVy",
        "code_page": "https://privacy.example-shop.test/verify",
        "resend_page": "https://privacy.example-shop.test/verify/resend",
        "agent": False,
        "expires_at": datetime(2026, 11, 5, 9, 30, tzinfo=UTC),
        "new_due": date(2027, 2, 2),
        "previous_due": date(2026, 12, 2),
        "reasons": "Twelve systems hold records about you, three of them kept by hand.",
        "systems": [
            {
                "title": "Online shop (customer accounts and orders)",
                "purposes": ["Running your customer account", "Taking, delivering and invoicing your orders"],
                "legal_basis": "Performance of a contract (GDPR Art. 6(1)(b))",
                "recipients": ["Payment processor (card payments)", "Parcel carrier (delivery name and address)"],
                "third_country_transfers": ["Payment processor in the United States, under the EU Standard Contractual Clauses"],
                "retention": "Account data while the account is open plus 2 years; orders and invoices 10 years",
                "source": "Collected from you when you created your account and placed orders",
            }
        ],
        "categories": ["identity", "contact", "postal_address", "commercial"],
        "record_count": 14,
        "found": True,
        "manual": [{"title": "Warehouse returns ledger", "records": 2}],
        "erasure": [
            {"system": "Online shop", "entity": "customer", "rows": 1, "action": "anonymise"},
            {"system": "Online shop", "entity": "address", "rows": 2, "action": "anonymise"},
            {
                "system": "Online shop",
                "entity": "orders",
                "rows": 3,
                "action": "retain",
                "reason": "orders: 10 years (German Commercial Code s.257)",
            },
        ],
        "corrections": [{"attribute": "phone", "systems": ["Online shop"], "value": "+49 30 1234567"}],
        "recipients": ["Parcel carrier (delivery name and address)"],
        "notified": ["Parcel carrier (delivery name and address)"],
        "denial_reason": "we could not verify your identity",
        "appeal_url": "https://forms.example-shop.test/?appeal_of=DSR-2026-000123",
        "appealed_reference": "DSR-2026-000101",
        "appealed_type": "access",
        "outcome": "upheld",
        "law": "Virginia Consumer Data Protection Act",
        "regulator": "the Virginia Attorney General",
        "complaint_route_required": True,
        "refused": [{"system": "Online shop", "entity": "orders", "rows": 3, "reason": RETAINED}],
        "recipient": "Parcel carrier (delivery name and address)",
        "action": "erasure",
        "person": {"name": "Jane Doe", "emails": ["jane.doe@example.com"]},
        "package": {"url": "https://forms.example-shop.test/package#t0ken", "expires_at": datetime(2026, 12, 4, 9, 0, tzinfo=UTC)},
    }


def ms(seconds: float) -> str:
    return f"{seconds * 1000:7.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--templates", type=Path, default=ROOT / "templates")
    parser.add_argument("--png", type=Path, default=None, help="write page 1 of the German deletion letter as a PNG")
    args = parser.parse_args()

    t = time.perf_counter()
    renderer = LetterRenderer(args.templates)
    first = renderer.render("access_response", "gdpr", context("access_response", "gdpr"), "en")
    print(f"first render of a fresh renderer (templates compiled, vocabulary read): {ms(time.perf_counter() - t)}")
    t = time.perf_counter()
    renderer.pdf(first)
    print(f"first PDF (WeasyPrint imported, fonts loaded):                       {ms(time.perf_counter() - t)}")

    kinds = renderer.manifest.kinds()
    print(f"\nload average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; {args.repeat} runs x {len(LANGUAGES)} languages per letter")
    print(f"{'letter':<24}{'render CPU':>12}{'wall':>11}{'PDF CPU':>12}{'wall':>11}{'PDF size':>11}")
    renders: list[float] = []
    pdfs: list[float] = []
    for kind in kinds:
        regime = "vcdpa" if kind == "appeal_outcome" else "gdpr"
        r_cpu, r_wall, p_cpu, p_wall, sizes = [], [], [], [], []
        for language in LANGUAGES:
            for _ in range(args.repeat):
                c, t = time.process_time(), time.perf_counter()
                letter = renderer.render(kind, regime, context(kind, regime), language)
                r_cpu.append(time.process_time() - c)
                r_wall.append(time.perf_counter() - t)
                c, t = time.process_time(), time.perf_counter()
                pdf = renderer.pdf(letter)
                p_cpu.append(time.process_time() - c)
                p_wall.append(time.perf_counter() - t)
                sizes.append(len(pdf))
        renders += r_cpu
        pdfs += p_cpu
        print(
            f"{kind:<24}{ms(statistics.median(r_cpu)):>12}{ms(statistics.median(r_wall)):>11}"
            f"{ms(statistics.median(p_cpu)):>12}{ms(statistics.median(p_wall)):>11}{statistics.median(sizes) / 1024:>8.1f} KiB"
        )
    print(
        f"\nall letters (CPU): render median {ms(statistics.median(renders)).strip()} (max {ms(max(renders)).strip()}), "
        f"PDF median {ms(statistics.median(pdfs)).strip()} (max {ms(max(pdfs)).strip()}); "
        f"{len(renders) / sum(renders):.0f} renders/s, {len(pdfs) / sum(pdfs):.1f} PDFs/s of one core"
    )

    if args.png:
        letter = renderer.render("deletion_response", "gdpr", context("deletion_response", "gdpr"), "de")
        with tempfile.TemporaryDirectory() as tmp:
            pdf_file = Path(tmp) / "letter.pdf"
            pdf_file.write_bytes(renderer.pdf(letter))
            if shutil.which("pdftoppm") is None:
                print("pdftoppm is missing (scripts/ensure-weasyprint installs it): no PNG written")
                return
            out = str(args.png.with_suffix(""))
            subprocess.run(["pdftoppm", "-png", "-r", "80", "-f", "1", "-l", "1", "-singlefile", str(pdf_file), out], check=True)
        print(f"page 1 of {letter.template} as the customer sees it: {args.png}")


if __name__ == "__main__":
    main()
