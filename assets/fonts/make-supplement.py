#!/usr/bin/env python3
"""Makes NotoSansCJKjp-supplement.otf: the characters a Japanese receipt may need that BIZ UD
Gothic lacks — JIS X 0212 補助漢字, CJK Extension B and beyond (𠮷 …) and the compatibility
ideographs (﨑 …) — cut from Debian's Noto Sans CJK JP (SIL OFL 1.1).

    apt-get install fonts-noto-cjk && pip install fonttools && python3 make-supplement.py
"""
import pathlib
import subprocess
import tempfile

from fontTools.ttLib import TTCollection, TTFont

HERE = pathlib.Path(__file__).parent
BIZ = TTFont(HERE / "BIZUDGothic-Regular.ttf").getBestCmap()
NOTO = TTCollection("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc").fonts[0]  # JP

jisx0212 = set()
for a in range(0x21, 0x7F):
    for b in range(0x21, 0x7F):
        try:
            text = (b"\x1b$(D" + bytes([a, b]) + b"\x1b(B").decode("iso2022_jp_2")
        except UnicodeDecodeError:
            continue
        jisx0212.update(map(ord, text))

wanted = sorted(
    c
    for c in NOTO.getBestCmap()
    if c not in BIZ and (c >= 0x20000 or 0xF900 <= c <= 0xFAFF or c in jisx0212)
)
with tempfile.TemporaryDirectory() as tmp:
    full = pathlib.Path(tmp) / "jp.otf"
    NOTO.save(full)
    subprocess.run(
        [
            "pyftsubset", str(full),
            "--unicodes=" + ",".join(f"U+{c:04X}" for c in wanted),
            f"--output-file={HERE / 'NotoSansCJKjp-supplement.otf'}",
            "--layout-features=", "--no-hinting", "--desubroutinize",
        ],
        check=True,
    )
print(f"{len(wanted)} characters")
