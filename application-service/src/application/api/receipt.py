"""The printable receipt (tanda terima) of an application filed at a counter, as a PDF."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from application.domain.counter_filing import Receipt

TRACKING_PATH = "/api/v1/tracking/"


def _text(value: str) -> str:
    # The PDF core fonts speak Latin-1; anything else is shown as '?' rather than failing.
    return value.encode("latin-1", "replace").decode("latin-1")


def render_receipt(receipt: Receipt, *, public_url: str) -> bytes:
    application = receipt.application
    timezone = receipt.timezone
    assert application.registration_number is not None
    assert application.tracking_code is not None
    assert application.submitted_at is not None
    local = application.submitted_at.astimezone(ZoneInfo(timezone))
    # Imported here: fpdf2 brings fontTools, Pillow and numpy, some 60 MiB a process would
    # hold from start for a page few replicas ever print.
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(f"Tanda terima {application.registration_number}")
    pdf.set_creator("MPP Digital")
    pdf.add_page()
    pdf.set_font("Helvetica", style="B", size=14)
    pdf.multi_cell(0, 8, "TANDA TERIMA PERMOHONAN", new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.set_font("Helvetica", size=10)
    pdf.multi_cell(0, 6, _text(receipt.agency_name), new_x="LMARGIN", new_y="NEXT", align="C")
    pdf.ln(4)
    rows = (
        ("Nomor registrasi", application.registration_number),
        ("Kode pelacakan", application.tracking_code),
        ("Layanan", receipt.service_name),
        ("Tanggal", local.strftime("%d-%m-%Y %H:%M ") + (local.tzname() or timezone)),
        ("Petugas", receipt.filing.officer_name),
    )
    for label, value in rows:
        pdf.set_font("Helvetica", style="B", size=10)
        pdf.cell(40, 7, _text(label))
        pdf.set_font("Helvetica", size=10)
        pdf.multi_cell(0, 7, _text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font("Helvetica", size=9)
    link = f"{public_url.rstrip('/')}{TRACKING_PATH}{application.registration_number}"
    pdf.multi_cell(
        0,
        5,
        _text(
            "Simpan tanda terima ini. Pantau perkembangan permohonan Anda di halaman pelacakan "
            f"publik MPP Digital ({link}) dengan nomor registrasi dan kode pelacakan di atas. "
            "Jangan berikan kode pelacakan kepada orang lain."
        ),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
