"""ETags and conditional GETs of catalogue reads."""

from __future__ import annotations

import json

from starlette.requests import Request

from catalog.api.http_cache import cacheable_json, etag_of, page_body


def _request(if_none_match: str | None) -> Request:
    headers = [(b"if-none-match", if_none_match.encode())] if if_none_match else []
    return Request({"type": "http", "method": "GET", "path": "/", "headers": headers})


def test_page_body_joins_json_items() -> None:
    body = page_body(['{"a": 1}', '{"b": 2}'], "abc")
    assert json.loads(body) == {"items": [{"a": 1}, {"b": 2}], "next_cursor": "abc"}
    assert json.loads(page_body([], None)) == {"items": [], "next_cursor": None}


def test_matching_etag_answers_304_without_body() -> None:
    body = b'{"x": 1}'
    etag = etag_of(body)
    response = cacheable_json(_request(f'"other", W/{etag}'), body, max_age=30)
    assert response.status_code == 304
    assert response.body == b""
    assert response.headers["etag"] == etag


def test_other_etag_answers_200_with_cache_headers() -> None:
    response = cacheable_json(_request('"stale"'), b'{"x": 1}', max_age=30)
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=30"
    assert response.headers["etag"] == etag_of(b'{"x": 1}')


def test_etag_changes_with_the_body() -> None:
    assert etag_of(b'{"version": 1}') != etag_of(b'{"version": 2}')
