#!/usr/bin/env python3
"""smpte_check.py FRAME.png: the frame shows modetest's SMPTE pattern at 1024x768, as libdrm's
tests/util/pattern.c draws it (75% bars, PLUGE at the bottom), checked at 19 sample points."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngread import load  # noqa: E402

w, h, px = load(sys.argv[1])
assert (w, h) == (1024, 768), (w, h)
# Top 6/9: 7 bars of width/7; middle 6/9..7/9: 7 reversed bars; bottom: 4 bars over 5/7 width,
# then 3 PLUGE steps over 1/7, then black.
top = [(192, 192, 192), (192, 192, 0), (0, 192, 192), (0, 192, 0), (192, 0, 192), (192, 0, 0), (0, 0, 192)]
mid = [(0, 0, 192), (19, 19, 19), (192, 0, 192), (19, 19, 19), (0, 192, 192), (19, 19, 19), (192, 192, 192)]
for k in range(7):
    x = w * (2 * k + 1) // 14
    assert px(x, h // 3) == top[k], ("top", k, px(x, h // 3))
    assert px(x, h * 13 // 18) == mid[k], ("middle", k, px(x, h * 13 // 18))
bot = [(0, 33, 76), (255, 255, 255), (50, 0, 106), (19, 19, 19)]
for k in range(4):
    x = (w * 5 // 7) * (2 * k + 1) // 8
    assert px(x, h * 17 // 18) == bot[k], ("bottom", k, px(x, h * 17 // 18))
assert px(w - 3, h - 3) == (19, 19, 19), px(w - 3, h - 3)
print("checked %d pixels of %s" % (7 * 2 + 4 + 1, os.path.basename(sys.argv[1])))
