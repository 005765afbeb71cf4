"""Device tokens: the QR code ODK Collect scans, token access to OpenRosa, revocation."""

from __future__ import annotations

import html
import re

import zxingcpp
from PIL import Image
from sqlalchemy import select

from survey.extensions import db
from survey.users import devices
from survey.users.models import AuditEntry, Device

HTTPS = "https://localhost"


def rasterize_segno_svg(svg: str, pixels: int = 8) -> Image.Image:
    """Draw the SVG QR code the page shows (segno's one-path format) into a bitmap."""
    width = int(re.search(r'width="(\d+)"', svg).group(1))
    scale = int(re.search(r"scale\((\d+)\)", svg).group(1))
    path = re.search(r' d="([^"]+)"', svg).group(1)
    modules = width // scale
    image = Image.new("L", (modules * pixels, modules * pixels), 255)
    x = y = 0.0
    for command, args in re.findall(r"([MmHh])([^MmHh]+)", path):
        numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", args)]
        if command == "M":
            x, y = numbers
        elif command == "m":
            x, y = x + numbers[0], y + numbers[1]
        else:
            length = numbers[0] if command == "h" else numbers[0] - x
            row = int(y)  # the line is stroked 1 module high, centred on y
            for column in range(int(x), int(x + length)):
                image.paste(
                    0,
                    (column * pixels, row * pixels, (column + 1) * pixels, (row + 1) * pixels),
                )
            x += length
    return image


def issue(client, auth, create_user, name="phone-1"):
    volunteer = create_user("vol", "volunteer")
    auth.login("coordinator")
    page = client.post("/admin/devices", data={"account": str(volunteer.id), "name": name})
    assert page.status_code == 200, page.text
    return page


def test_the_qr_code_configures_collect_with_the_token(client, auth, create_user) -> None:
    page = issue(client, auth, create_user)
    svg = re.search(r"<svg.*?</svg>", page.text, re.S).group(0)
    results = zxingcpp.read_barcodes(rasterize_segno_svg(svg))
    assert len(results) == 1
    decoded = results[0].text
    embedded = html.unescape(re.search(r'data-collect-settings="([^"]+)"', page.text).group(1))
    assert decoded == embedded
    settings = devices.read_qr_payload(decoded)
    url = settings["general"]["server_url"]
    assert url.startswith("http://localhost/key/")
    assert settings["general"]["username"] == "vol"
    assert settings["project"]["name"] == "Birge" and settings["admin"] == {}
    token = url.rsplit("/", 1)[1]
    assert len(token) >= 43
    stored = db.session.execute(select(Device)).scalar_one()
    assert stored.token_sha256 != token and len(stored.token_sha256) == 64
    assert token not in page.text.replace(decoded, "").replace(svg, "")


def token_of(page_text: str) -> str:
    payload = html.unescape(re.search(r'data-collect-settings="([^"]+)"', page_text).group(1))
    return devices.read_qr_payload(payload)["general"]["server_url"].rsplit("/", 1)[1]


def test_token_opens_openrosa_until_revoked(client, auth, create_user, default_instrument) -> None:
    first = token_of(issue(client, auth, create_user).text)
    vol = db.session.execute(select(Device)).scalar_one().user_id
    second_page = client.post("/admin/devices", data={"account": str(vol), "name": "phone-2"})
    second = token_of(second_page.text)
    phone = client.application.test_client()
    listing = phone.get(f"/key/{first}/formList", base_url=HTTPS)
    assert listing.status_code == 200
    assert f"https://localhost/key/{first}/forms/" in listing.text  # downloads keep the token
    assert phone.head(f"/key/{first}/submission", base_url=HTTPS).status_code == 204
    assert phone.get(f"/key/{first}/formList").status_code == 403  # HTTPS only
    device = db.session.execute(select(Device).where(Device.name == "phone-1")).scalar_one()
    revoked = client.post(f"/admin/devices/{device.id}/revoke")
    assert revoked.status_code == 302
    assert phone.get(f"/key/{first}/formList", base_url=HTTPS).status_code == 401
    assert phone.get(f"/key/{second}/formList", base_url=HTTPS).status_code == 200
    assert phone.get("/key/made-up/formList", base_url=HTTPS).status_code == 401
    actions = db.session.execute(select(AuditEntry.action)).scalars().all()
    assert actions.count("device_issued") == 2 and actions.count("device_revoked") == 1


def test_a_disabled_account_s_devices_stop(client, auth, create_user, default_instrument) -> None:
    token = token_of(issue(client, auth, create_user).text)
    vol = db.session.execute(select(Device)).scalar_one().user_id
    client.post(f"/admin/users/{vol}", data={"role": "volunteer"})  # unticked: disabled
    phone = client.application.test_client()
    assert phone.get(f"/key/{token}/formList", base_url=HTTPS).status_code == 401


def test_coordinators_issue_only_for_volunteers(client, auth, create_user) -> None:
    other = create_user("coord2", "coordinator")
    auth.login("coordinator")
    refused = client.post("/admin/devices", data={"account": str(other.id), "name": "x"})
    assert refused.status_code == 422
    assert db.session.execute(select(Device)).first() is None
