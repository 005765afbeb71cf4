"""The report's URL fetcher serves its own stylesheet and figures and refuses everything else."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from weasyprint import HTML

from reports.render.pdf import (
    BASE_URL,
    TEMPLATE_DIR,
    RefusedURLError,
    ReportURLFetcher,
    report_url_fetcher,
)


def test_serves_the_report_stylesheet() -> None:
    response = report_url_fetcher(BASE_URL + "paper.css")
    assert response.content_type == "text/css"
    assert b"@page" in response.read()
    response.close()


def test_serves_this_render_s_figures_only_to_that_render() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"/>'
    fetcher = ReportURLFetcher({"figures/figure-1.svg": svg})
    response = fetcher(BASE_URL + "figures/figure-1.svg")
    assert response.content_type == "image/svg+xml" and response.read() == svg
    with pytest.raises(RefusedURLError):
        report_url_fetcher(BASE_URL + "figures/figure-1.svg")


@pytest.mark.parametrize(
    "url",
    [
        "http://example.org/x.png",
        "https://example.org/x.css",
        "HTTPS://example.org/x.css",
        "ftp://example.org/x.css",
        f"file://{TEMPLATE_DIR}/paper.css",
        "file:///etc/passwd",
        "data:image/svg+xml;base64,PHN2Zy8+",
        "data:text/css,body{}",
        "javascript:alert(1)",
        BASE_URL + "../../pyproject.toml",
        BASE_URL + "%2e%2e/%2e%2e/pyproject.toml",
        BASE_URL + "..%2f..%2fpyproject.css",
        BASE_URL + "./paper.css",
        BASE_URL + "sub//paper.css",
        BASE_URL + "paper.css?x=1",
        "birge-report://evil.example/paper.css",
        BASE_URL + "paper.html",  # the template itself is not an asset
        BASE_URL + "missing.css",
        BASE_URL + "paper.css%00.png",
        "paper.css",  # relative: WeasyPrint could not resolve it against our scheme
    ],
)
def test_refuses_everything_else(url: str) -> None:
    with pytest.raises(RefusedURLError):
        report_url_fetcher(url)


def test_refuses_a_symbolic_link_out_of_the_folder(tmp_path: Path) -> None:
    root = tmp_path / "report"
    root.mkdir()
    secret = tmp_path / "secret.css"
    secret.write_text("body { color: red }")
    (root / "paper.css").symlink_to(secret)
    with pytest.raises(RefusedURLError):
        ReportURLFetcher(root=root)(BASE_URL + "paper.css")


def test_weasyprint_skips_refused_resources_and_renders_the_rest(
    caplog: pytest.LogCaptureFixture,
) -> None:
    asked: list[str] = []

    class Recording(ReportURLFetcher):
        def fetch(self, url: str, headers: object = None) -> object:  # type: ignore[override]
            asked.append(url)
            return super().fetch(url, headers)  # type: ignore[arg-type]

    html = (
        '<html lang="en"><head><title>t</title>'
        f'<link rel="stylesheet" href="{BASE_URL}paper.css">'
        '<link rel="stylesheet" href="https://example.org/x.css"></head>'
        '<body><p>Text</p><img src="http://example.org/x.png" alt="x">'
        '<img src="file:///etc/passwd" alt="y"></body></html>'
    )
    with caplog.at_level(logging.ERROR, logger="weasyprint"):
        pdf = HTML(string=html, base_url=BASE_URL, url_fetcher=Recording()).write_pdf()
    assert pdf.startswith(b"%PDF")
    assert asked[0] == BASE_URL + "paper.css"
    assert set(asked[1:]) == {
        "https://example.org/x.css",
        "http://example.org/x.png",
        "file:///etc/passwd",
    }
    refused = [r.getMessage() for r in caplog.records if "RefusedURLError" in r.getMessage()]
    assert len(refused) == 3
