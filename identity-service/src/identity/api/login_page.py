"""The server-rendered login form of the authorization code flow (Indonesian, no JavaScript)."""

from __future__ import annotations

from html import escape

from fastapi.responses import HTMLResponse

# What each scope lets the application see, in words a citizen reads before logging in.
SCOPE_DESCRIPTIONS = {
    "openid": "identitas akun Anda",
    "profile": "nama, tanggal lahir dan jenis kelamin",
    "email": "alamat email",
    "phone": "nomor ponsel",
    "address": "alamat sesuai KTP",
}

SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    # No form-action: browsers apply it to the redirect back to the client as well.
    "Content-Security-Policy": (
        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"
    ),
}

_STYLE = """
body{font-family:system-ui,sans-serif;background:#f3f5f8;margin:0;padding:2rem 1rem;color:#1d2330}
main{max-width:24rem;margin:auto;background:#fff;border-radius:.5rem;padding:1.5rem 1.75rem;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.3rem;margin:0 0 .25rem}p{margin:.25rem 0 1rem;line-height:1.4}
label{display:block;font-weight:600;margin:.9rem 0 .3rem}
input{width:100%;box-sizing:border-box;padding:.55rem;border:1px solid #b8c0cc;border-radius:.3rem;
font-size:1rem}button{margin-top:1.3rem;width:100%;padding:.65rem;border:0;border-radius:.3rem;
background:#0b5cad;color:#fff;font-size:1rem;font-weight:600}
.error{background:#fdecec;border:1px solid #f3b7b7;color:#8a1c1c;padding:.6rem;border-radius:.3rem}
.hint{font-size:.85rem;color:#5b6472}ul{margin:.25rem 0 1rem;padding-left:1.2rem}
"""


def _page(title: str, body: str, *, status_code: int) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="id"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} — MPP Digital</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)


def login_form(
    *,
    action: str,
    form_token: str,
    client_name: str,
    scopes: tuple[str, ...],
    username: str = "",
    error: str | None = None,
    ask_otp: bool = False,
    status_code: int = 200,
) -> HTMLResponse:
    shown = [SCOPE_DESCRIPTIONS[s] for s in scopes if s in SCOPE_DESCRIPTIONS]
    extra = [s for s in scopes if s not in SCOPE_DESCRIPTIONS]
    items = "".join(f"<li>{escape(text)}</li>" for text in shown)
    items += "".join(f"<li>akses <code>{escape(s)}</code></li>" for s in extra)
    body = (
        "<h1>Masuk ke MPP Digital</h1>"
        f"<p><strong>{escape(client_name)}</strong> meminta Anda masuk. Setelah masuk, aplikasi "
        f"ini dapat melihat:</p><ul>{items}</ul>"
    )
    if error:
        body += f'<p class="error" role="alert">{escape(error)}</p>'
    body += (
        f'<form method="post" action="{escape(action)}">'
        f'<input type="hidden" name="form_token" value="{escape(form_token)}">'
        '<label for="username">NIK atau email</label>'
        f'<input id="username" name="username" autocomplete="username" required '
        f'value="{escape(username)}">'
        '<label for="password">Kata sandi</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" required>'
        '<label for="otp">Kode OTP</label>'
        f'<input id="otp" name="otp" inputmode="numeric" autocomplete="one-time-code" '
        f'pattern="[0-9]{{6}}"{" required" if ask_otp else ""}>'
        '<p class="hint">Khusus petugas: 6 angka dari aplikasi autentikator.</p>'
        '<button type="submit">Masuk</button></form>'
    )
    return _page("Masuk", body, status_code=status_code)


def error_page(message: str, *, status_code: int = 400) -> HTMLResponse:
    body = f'<h1>Tidak dapat melanjutkan</h1><p class="error" role="alert">{escape(message)}</p>'
    return _page("Kesalahan", body, status_code=status_code)
