"""fieldcase-documents: the visit report as a PDF, and the outbox, read back as a lender would.

Each PDF is opened with pypdfium2 (PDFium, the engine of Chrome's viewer):
pages rendered to PNG, the text layer extracted, the images on the page
counted; letters and messages are read back from the outbox folder.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import io
import json
import re
import stat
from decimal import Decimal
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from fieldcase.model import Borrower, Case, OutgoingMessage
from fieldcase.testing import Office, OfficeFactory, invoke
from fieldcase_documents import send_message
from fieldcase_documents.fonts import printable
from fieldcase_documents.outbox import OutboxRefused
from PIL import Image

PREPARED = "2026-11-24T09:00+08:00"


def pdf_text(path: Path) -> list[str]:
    """The text layer of each page."""
    document = pdfium.PdfDocument(path)
    try:
        return [page.get_textpage().get_text_range() for page in document]
    finally:
        document.close()


def images_on(path: Path) -> list[int]:
    """How many image objects each page draws."""
    document = pdfium.PdfDocument(path)
    try:
        return [
            len(list(page.get_objects(filter=[pdfium_c.FPDF_PAGEOBJ_IMAGE]))) for page in document
        ]
    finally:
        document.close()


# -- the demo's showcase case: a Chinese borrower, visited, offered, reviewed ----------------


@pytest.fixture
def demo(isolated_fieldcase: Path) -> tuple[Path, int]:
    """The demo database as of a fixed morning, and its showcase case."""
    db = isolated_fieldcase / "demo.db"
    built = invoke("--db", db, "demo", "--at", "2026-11-24T07:30+08:00")
    assert built.exit_code == 0, built.output
    showcase = re.search(r"History of case (\d+):", built.stdout)
    assert showcase is not None
    return db, int(showcase.group(1))


def run_report(db: Path, case: int, out: Path, staff: str) -> None:
    result = invoke(
        "--db", db, "--as", staff, "report", "visit", case, "-o", str(out), "--at", PREPARED
    )
    assert result.exit_code == 0, result.output


def test_a_pdf_visit_report_with_chinese_text(demo: tuple[Path, int], tmp_path: Path) -> None:
    db, case = demo
    out = tmp_path / "visit.pdf"

    run_report(db, case, out, "chen.wei")

    expected = json.loads(
        invoke("--db", db, "--as", "chen.wei", "report", "visit", case, "--json").stdout
    )
    assert out.read_bytes().startswith(b"%PDF-")
    pages = pdf_text(out)
    assert 1 <= len(pages) <= 2
    text = "\n".join(pages)
    # The Chinese borrower's name, address and institution, as extracted from the PDF.
    assert expected["borrower"]["name"] in text
    assert re.search(r"[\u4e00-\u9fff]{2,}", expected["borrower"]["name"])
    assert expected["borrower"]["address"] in text
    assert "华夏消费金融" in text
    assert expected["borrower"]["national_id"] in text
    assert expected["visit"]["reason_label"] in text
    accepted = [o for o in expected["offers"] if o["status"] == "accepted"]
    assert accepted
    for offer in expected["offers"]:
        total = Decimal(offer["total_payable"])
        assert f"CNY {total:,}" in text
    # Every event that proves the visit, with its hash as the chain holds it.
    history = json.loads(invoke("--db", db, "--as", "chen.wei", "history", case, "--json").stdout)
    hashes = {e["id"]: e["hash"] for e in history}
    assert expected["events"]
    for event in expected["events"]:
        assert hashes[event["id"]] in text

    # Page 1 rendered to PNG at 144 dpi: A4 (595.28 x 841.89 points), and not blank.
    document = pdfium.PdfDocument(out)
    width, height = document[0].get_size()
    assert (round(width, 1), round(height, 1)) == (595.3, 841.9)
    image = document[0].render(scale=2).to_pil()
    png = tmp_path / "page1.png"
    image.save(png)
    document.close()
    with Image.open(png) as shown:
        assert shown.size == (1191, 1684)
        grey = shown.convert("L")
        dark = sum(grey.histogram()[:128])
        assert dark > 2000  # text, not a white page

    # The same report, prepared at the same time, is the same file.
    again = tmp_path / "again.pdf"
    run_report(db, case, again, "chen.wei")
    assert again.read_bytes() == out.read_bytes()


def test_masked_for_a_field_worker_not_on_the_case(demo: tuple[Path, int], tmp_path: Path) -> None:
    db, case = demo
    clear = json.loads(
        invoke("--db", db, "--as", "chen.wei", "report", "visit", case, "--json").stdout
    )
    out = tmp_path / "masked.pdf"

    run_report(db, case, out, "maria.lopez")

    text = "\n".join(pdf_text(out))
    national_id = clear["borrower"]["national_id"]
    assert national_id not in text and national_id[:-4] not in text
    assert "*" * (len(national_id) - 4) + national_id[-4:] in text
    assert clear["borrower"]["address"] not in text and "[masked]" in text
    assert "Personal data masked: prepared for maria.lopez" in text
    assert not any(e["hash"] in text for e in clear["events"])
    assert "(withheld)" in text
    # What is not personal stays.
    assert clear["borrower"]["name"] in text and clear["visit"]["reason_label"] in text


# -- a visit with a check-in and photos -----------------------------------------------------


@pytest.fixture
def office(fieldcase_office: OfficeFactory) -> Office:
    """A Chinese lender; this plugin and the China pack loaded, no other."""
    return fieldcase_office(
        plugins=["fieldcase-documents", "fieldcase-cn"],
        institution="hx-consumer",
        name="华夏消费金融",
        jurisdiction="CN",
        timezone="Asia/Shanghai",
        currency="CNY",
    )


def jpeg(colour: tuple[int, int, int], size: tuple[int, int] = (640, 480)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, "JPEG")
    return out.getvalue()


def visited_with_photos(office: Office, tmp_path: Path) -> int:
    """A case referred with the borrower's coordinates, visited from 2.2 km away, 3 photos."""
    referral = tmp_path / "referral.csv"
    referral.write_text(
        "reference,borrower_name,principal,overdue_amount,overdue_since,national_id,phone,"
        "address,latitude,longitude\n"
        "HX-1,王芳,20000.00,3150.40,2026-09-15,310101199001011234,+8613800138000,"
        "上海市浦东新区世纪大道100号,31.230416,121.473701\n",
        encoding="utf-8",
    )
    office.succeed(
        "import", str(referral), "--institution", "hx-consumer", as_=office.supervisor,
        at="2026-11-23 08:50",
    )  # fmt: skip
    case = 1
    office.succeed("assign", case, "--to", office.field, as_=office.supervisor, at="08:55")
    office.advance(case, "interview")
    office.succeed(
        "interview", case, "--met", "borrower", "--reason", "medical",
        "--lat", "31.250000", "--lon", "121.473701", "--accuracy", "10",
        at="2026-11-25 10:30",
    )  # fmt: skip
    front = tmp_path / "front-door.jpg"
    front.write_bytes(jpeg((200, 40, 40)))
    street = tmp_path / "street.jpg"
    street.write_bytes(jpeg((40, 40, 200), (480, 640)))
    # HEIC from a phone: Pillow cannot decode it, so the page shows a labelled box.
    heic = tmp_path / "meter.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64))
    office.succeed(
        "attach",
        case,
        str(front),
        str(street),
        str(heic),
        "--visit",
        "1",
        "--note",
        "门口",
        at="2026-11-25 11:00",
    )
    return case


def test_photos_are_thumbnails_and_a_far_check_in_is_flagged(
    office: Office, tmp_path: Path
) -> None:
    case = visited_with_photos(office, tmp_path)
    out = tmp_path / "visit.pdf"

    office.succeed("report", "visit", case, "-o", str(out), at="2026-11-26 09:00")

    # Two JPEGs as images; the HEIC a box with its type.
    assert sum(images_on(out)) == 2
    text = "\n".join(pdf_text(out))
    assert "image/heic" in text and "no preview" in text
    shown = json.loads(office.succeed("report", "visit", case, "--json").stdout)
    assert [a["media_type"] for a in shown["attachments"]] == [
        "image/jpeg", "image/jpeg", "image/heic",
    ]  # fmt: skip
    for attachment in shown["attachments"]:
        assert f"#{attachment['id']} photo" in text and attachment["sha256"][:12] in text
    # 2.2 km from the coordinates the lender gave: farther than the 500 m limit.
    (checkin,) = shown["checkins"]
    assert checkin["far"] is True and 2100 < checkin["distance_m"] < 2200
    assert f"{checkin['distance_m']:,} m from imported location" in text and "FAR" in text
    assert "门口" in text  # the photos' note
    assert "王芳" in text


# -- the font --------------------------------------------------------------------------------


def test_without_a_font_the_report_says_how_to_get_one(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = office.case_at("feedback")
    out = tmp_path / "visit.pdf"
    events_before = office("history", "--system", "--json", as_=office.supervisor).stdout

    monkeypatch.setattr("fieldcase_documents.fonts.FONT_PACKAGE", "no_such_font_package")
    result = office("report", "visit", case, "-o", str(out))

    assert result.exit_code == 1
    assert "no font for Chinese text: install one with 'pip install pylopdf-fonts-zh-cn'" in (
        result.stderr
    )
    assert not out.exists() and not list(tmp_path.glob(".visit.partial*"))
    assert office("history", "--system", "--json", as_=office.supervisor).stdout == events_before

    monkeypatch.setenv("FIELDCASE_CJK_FONT", str(tmp_path / "missing.otf"))
    named = office("report", "visit", case, "-o", str(out))
    assert named.exit_code == 1 and "FIELDCASE_CJK_FONT=" in named.stderr


def test_the_font_can_be_named(
    office: Office, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pylopdf_fonts_zh_cn

    monkeypatch.setenv("FIELDCASE_CJK_FONT", str(pylopdf_fonts_zh_cn.serif_path()))
    case = office.case_at("feedback")
    out = tmp_path / "visit.pdf"
    office.succeed("report", "visit", case, "-o", str(out))
    assert "Medical emergency" in "\n".join(pdf_text(out))


def test_a_sign_the_font_lacks_is_written_as_its_code() -> None:
    glyphs = {ord(c) for c in "Rs 0123456789.,?INR "}
    assert printable("₹1,200.00", glyphs) == "INR 1,200.00"
    assert printable("Rs 12\x07", glyphs) == "Rs 12?"


# -- the outbox ------------------------------------------------------------------------------


def chinese_case() -> Case:
    return Case(
        institution="hx-consumer",
        reference="HX/2026 001",
        borrower=Borrower(name="王芳", timezone="Asia/Shanghai"),
        currency="CNY",
        principal=Decimal("20000.00"),
        overdue_amount=Decimal("3150.40"),
        overdue_since=dt.date(2026, 9, 15),
        referred_at=dt.datetime(2026, 11, 1, tzinfo=dt.UTC),
        jurisdiction="CN",
        id=1,
    )


def message(channel: str, text: str, recipient: str, contact: int = 7) -> OutgoingMessage:
    return OutgoingMessage(
        case_id=1,
        contact_id=contact,
        template="reminder",
        channel=channel,
        language="zh",
        recipient=recipient,
        text=text,
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
        at=dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC),
        staff="li.na",
        subject="逾期还款提醒",
    )


@pytest.fixture
def outbox(isolated_fieldcase: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = isolated_fieldcase / "sent" / "letters"
    monkeypatch.setenv("FIELDCASE_OUTBOX", str(folder))
    return folder


def test_a_letter_is_a_pdf_in_the_outbox(outbox: Path) -> None:
    text = "王芳女士：您的贷款已逾期，请于2026年12月1日前还款 CNY 3,150.40。"
    sent = message("letter", text, "上海市浦东新区世纪大道100号")

    receipt = send_message(message=sent, case=chinese_case(), settings={})

    path = Path(receipt or "")
    assert path == outbox / "hx-consumer-HX_2026_001-7-letter.pdf"
    (page,) = pdf_text(path)
    for expected in (
        "hx-consumer",
        "2026-11-25",
        "王芳",
        "上海市浦东新区世纪大道100号",
        "逾期还款提醒",
    ):
        assert expected in page
    assert "请于2026年12月1日前还款" in page.replace("\r\n", "")


def test_a_message_is_its_text_exactly(outbox: Path) -> None:
    text = "【华夏消费金融】王芳您好，您的贷款已逾期，请尽快还款。"
    sent = message("sms", text, "+8613800138000")

    path = Path(send_message(message=sent, case=chinese_case(), settings={}) or "")

    assert path.name == "hx-consumer-HX_2026_001-7-sms.txt"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == sent.sha256
    assert path.read_text(encoding="utf-8") == text


def test_an_email_is_an_eml_file(outbox: Path) -> None:
    text = "王芳您好：\n您的贷款已逾期。"
    sent = message("email", text, "wang.fang@example.com")

    path = Path(send_message(message=sent, case=chinese_case(), settings={}) or "")

    assert path.suffix == ".eml"
    mail = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert mail["To"].addresses[0].addr_spec == "wang.fang@example.com"
    assert mail["Subject"] == "逾期还款提醒"
    assert mail["X-Fieldcase-SHA256"] == sent.sha256
    body = mail.get_body()
    assert body is not None and body.get_content().rstrip("\n") == text


def test_a_file_in_the_outbox_is_never_overwritten(outbox: Path) -> None:
    sent = message("sms", "first", "+8613800138000")
    path = Path(send_message(message=sent, case=chinese_case(), settings={}) or "")

    with pytest.raises(OutboxRefused, match="exists already: contact 7 was sent before"):
        send_message(message=message("sms", "second", "+86"), case=chinese_case(), settings={})

    assert path.read_text(encoding="utf-8") == "first"


def test_the_default_outbox_is_in_the_working_folder(isolated_fieldcase: Path) -> None:
    sent = message("wechat", "您好", "wxid_wangfang", contact=9)
    path = Path(send_message(message=sent, case=chinese_case(), settings={}) or "")
    # The receipt is the path as written: relative to the working folder.
    assert path == Path("outbox", "hx-consumer-HX_2026_001-9-wechat.txt")
    assert (isolated_fieldcase / path).read_text(encoding="utf-8") == "您好"


# -- through fieldcase message ---------------------------------------------------------------

REMINDER = {
    "templates.reminder.channels": ["sms", "letter", "email"],
    "templates.reminder.text.zh": "$borrower_name您好：您的贷款$reference已逾期，逾期金额"
    "$overdue_amount。请尽快还款。",
    "templates.reminder.subject.zh": "关于贷款$reference的还款提醒",
}


def test_fieldcase_message_sends_through_the_outbox(office: Office, outbox: Path) -> None:
    office.set_policy(REMINDER)
    case = office.create_case(
        "HX-7", name="王芳", phone="+8613800138000", address="上海市浦东新区世纪大道100号"
    )

    letter = office.succeed(
        "message", case, "--template", "reminder", "--channel", "letter", at="10:00"
    )
    sms = office.succeed("message", case, "--template", "reminder", "--channel", "sms", at="10:05")

    contacts = office.show(case)["contacts"]
    sent_letter = outbox / f"hx-consumer-HX-7-{contacts[-2]['id']}-letter.pdf"
    sent_sms = outbox / f"hx-consumer-HX-7-{contacts[-1]['id']}-sms.txt"
    assert str(sent_letter) in letter.output and str(sent_sms) in sms.output
    # They name the borrower: readable by their owner only, as -o files are.
    assert {stat.S_IMODE(p.stat().st_mode) for p in (sent_letter, sent_sms)} == {0o600}
    (page,) = pdf_text(sent_letter)
    assert "上海市浦东新区世纪大道100号" in page and "关于贷款HX-7的还款提醒" in page
    assert "王芳您好：您的贷款HX-7已逾期" in page.replace("\r\n", "")
    text = sent_sms.read_text(encoding="utf-8")
    assert text.startswith("王芳您好：您的贷款HX-7已逾期，逾期金额")
    assert hashlib.sha256(sent_sms.read_bytes()).hexdigest() == contacts[-1]["message_sha256"]
