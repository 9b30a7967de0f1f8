"""Encoding detection and line-aware decoding on tiny hand-made files."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.core.ingest import encodings
from workbench.core.ingest.encodings import UndecodableLine, detect_encoding, iter_decoded_lines

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"

CHINESE = [
    "客户编码,客户名称,联系人,地址",
    "C001,上海华瑞科技有限公司,张伟,上海市浦东新区世纪大道100号",
    "C002,北京东方贸易有限公司,李娜,北京市朝阳区建国路88号",
    "C003,广州南方物流有限公司,陈静,广东省广州市天河区体育西路1号",
]


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_utf8_is_detected(tmp_path):
    guess = detect_encoding(write(tmp_path / "a.csv", "\n".join(CHINESE).encode("utf-8")))
    assert guess.encoding == "utf-8"
    assert guess.confidence > 0.9


def test_ascii_only_reads_as_utf8(tmp_path):
    guess = detect_encoding(write(tmp_path / "a.csv", b"id,name\n1,Acme\n"))
    assert guess.encoding == "utf-8"
    assert "ASCII" in guess.reason


def test_utf8_bom_is_detected(tmp_path):
    guess = detect_encoding(write(tmp_path / "a.csv", "\n".join(CHINESE).encode("utf-8-sig")))
    assert guess.encoding == "utf-8-sig"


def test_gbk_is_reported_as_gb18030_and_says_why(tmp_path):
    guess = detect_encoding(write(tmp_path / "a.csv", "\r\n".join(CHINESE).encode("gbk")))
    assert guess.encoding == "gb18030"
    assert "GBK" in guess.reason


def test_gb18030_only_characters_decode(tmp_path):
    # 䶮 (U+4DAE, CJK Ext. A) and 𠀾 (U+2003E, Ext. B) are four-byte GB18030 sequences, not in GBK
    text = "\n".join([*CHINESE, "C004,刘䶮科技有限公司,𠀾先生,深圳市南山区"])
    path = write(tmp_path / "a.csv", text.encode("gb18030"))
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("gbk")
    assert detect_encoding(path).encoding == "gb18030"
    lines = list(iter_decoded_lines(path, "gb18030"))
    assert lines[-1] == "C004,刘䶮科技有限公司,𠀾先生,深圳市南山区"


def test_gbk_with_one_bad_line_is_still_gb18030():
    guess = detect_encoding(FIXTURES / "gbk_bad_line.csv")
    assert guess.encoding == "gb18030"
    assert "1 of 5 lines" in guess.reason


def test_western_code_page_is_not_mistaken_for_gb18030(tmp_path):
    # every byte pair of this text is valid GB18030, but it decodes into rare characters
    text = "Kundennr;Firma;Ort\nK1;Müller Maschinenbau;München\nK2;Schmidt & Söhne;Köln\nK3;Straße AG;Düsseldorf\n"
    path = write(tmp_path / "a.csv", text.encode("cp1252"))
    guess = detect_encoding(path)
    assert guess.encoding == "cp1252"  # not gb18030, and the common code page when the sample fits it
    assert path.read_bytes().decode(guess.encoding) == text


def test_utf8_with_one_damaged_line_stays_utf8(tmp_path):
    data = "\n".join(CHINESE).encode("utf-8") + b"\nC009,\xe4\xb8,x,y\n"
    guess = detect_encoding(write(tmp_path / "a.csv", data))
    assert guess.encoding == "utf-8"
    assert "1 of 5 lines" in guess.reason


def test_full_streaming_check_overrides_an_ascii_sample(tmp_path, monkeypatch):
    monkeypatch.setattr(encodings, "SAMPLE_BYTES", 64)
    ascii_lines = [f"A{i:03d},Acme Trading {i},Smith,London" for i in range(20)]
    data = "\r\n".join([*ascii_lines, *CHINESE[1:]]).encode("gbk")
    guess = detect_encoding(write(tmp_path / "a.csv", data))
    assert guess.encoding == "gb18030"
    assert "whole file" in guess.reason


def test_utf16_with_bom_is_detected(tmp_path):
    guess = detect_encoding(write(tmp_path / "a.txt", "\r\n".join(CHINESE).encode("utf-16")))
    assert guess.encoding == "utf-16"


def test_bad_line_is_reported_with_offset_and_escapes():
    path = FIXTURES / "gbk_bad_line.csv"
    items = list(iter_decoded_lines(path, "gb18030"))
    assert len(items) == 5
    bad = [i for i in items if isinstance(i, UndecodableLine)]
    assert len(bad) == 1
    data = path.read_bytes()
    assert data[bad[0].offset] == 0xFF
    assert bad[0].text.startswith("C003,深圳\\xff")  # the bad byte shown as \xNN
    assert not bad[0].text.endswith("\r")
    good = [i for i in items if isinstance(i, str)]
    assert good[1] == "C001,上海华瑞科技有限公司,张伟,13800138000\r\n"


@pytest.mark.parametrize("chunk", [7, 16, 50, 1 << 20])
def test_chunking_does_not_change_the_lines(chunk):
    path = FIXTURES / "gbk_bad_line.csv"
    expected = list(iter_decoded_lines(path, "gb18030"))
    assert list(iter_decoded_lines(path, "gb18030", chunk_bytes=chunk)) == expected


def test_last_line_without_line_end_is_kept(tmp_path):
    path = write(tmp_path / "a.csv", b"a,b\n1,2")
    assert list(iter_decoded_lines(path, "utf-8")) == ["a,b\n", "1,2"]


def test_cr_only_line_ends(tmp_path):
    path = write(tmp_path / "a.csv", b"a,b\r1,2\r3,4\r")
    assert list(iter_decoded_lines(path, "utf-8")) == ["a,b\r", "1,2\r", "3,4\r"]


def test_utf16_without_bom_is_detected_from_nul_bytes(tmp_path):
    guess = detect_encoding(write(tmp_path / "a.txt", "\r\n".join(CHINESE).encode("utf-16-le")))
    assert guess.encoding == "utf-16-le"
    assert [line.rstrip("\r\n") for line in iter_decoded_lines(tmp_path / "a.txt", guess.encoding)] == CHINESE


def test_big5_is_not_mistaken_for_gb18030(tmp_path):
    text = (
        "客戶編號,客戶名稱,地址\n"
        "T1,鴻海精密工業股份有限公司,新北市土城區自由街2號\n"
        "T2,台灣積體電路製造股份有限公司,新竹科學園區力行六路8號\n"
        "T3,國泰人壽保險股份有限公司,台北市大安區仁愛路四段296號\n"
    )
    path = write(tmp_path / "a.csv", text.encode("big5"))
    assert path.read_bytes().decode("gb18030")  # it does decode as GB18030, into nonsense
    guess = detect_encoding(path)
    assert guess.encoding != "gb18030"
    assert path.read_bytes().decode(guess.encoding) == text  # e.g. big5 or cp950


def test_ascii_file_with_one_latin1_byte_is_not_gb18030(tmp_path):
    # no line decodes to Chinese, so GB18030 has no evidence even though only one line fails
    data = b"id,name,city\n1,Acme,London\n2,Globex,Paris\n3,Initech,K\xf6ln\n4,Umbrella,Berlin\n"
    guess = detect_encoding(write(tmp_path / "a.csv", data))
    assert guess.encoding != "gb18030"
    assert data.decode(guess.encoding).endswith("Köln\n4,Umbrella,Berlin\n")
