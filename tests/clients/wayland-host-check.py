"""Pixel checks for scripts/wayland-host-tests.sh: screenshots of the HOST weston (headless,
pixman) that shows the fake card's CRTC as an xdg_toplevel window (--backend wayland).
Every check prints what it measured and exits non-zero (AssertionError) otherwise.

  wayland-host-check.py empty SHOT.png W H
      the host with no window: W x H, every pixel the host's black background.
  wayland-host-check.py guest SHOT.png RRGGBB
      the host shows the guest weston's desktop: at least 60 % of the pixels are the guest's
      background RRGGBB exactly (so no channel swap or format mix-up), the frame is not mostly
      black (the host's own background), and weston-simple-shm's 250x250 window (a 20 px white
      frame around its rings) is in it, below desktop-shell's panel if there is one.
  wayland-host-check.py same SHOT.png FRAME.png
      the host screenshot against a `fakedrm ctl capture` of the guest's CRTC taken at the same
      time: same size, at least 85 % of the pixels identical (simple-shm animates, and the panel
      clock may tick, between the two).
  wayland-host-check.py opaque SHOT.png OUT.png
      SHOT as an RGB PNG for docs/: weston-screenshooter copies the host output's X byte into
      alpha, and a guest buffer's X byte is whatever the guest left there (simple-shm's cross).
"""
import os
import struct
import sys
import zlib
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngread import load
import importlib.util
_spec = importlib.util.spec_from_file_location("compositor_check", os.path.join(os.path.dirname(os.path.abspath(__file__)), "compositor-check.py"))
_cc = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_cc)
# The simple-shm window's measures and pixel tests, as compositor-check.py has them.
panel_height, white, bbox, rgb, SHM, SHM_PAD = _cc.panel_height, _cc.white, _cc.bbox, _cc.rgb, _cc.SHM, _cc.SHM_PAD


def count(w, h, px, pred):
    return sum(1 for y in range(h) for x in range(w) if pred(px(x, y)))


def empty(path, w0, h0):
    w, h, px = load(path)
    black = count(w, h, px, lambda c: c == (0, 0, 0))
    print("%s: %dx%d, %d%% black" % (os.path.basename(path), w, h, 100 * black // (w * h)))
    assert (w, h) == (int(w0), int(h0)), ("host output size", w, h)
    assert black == w * h, ("the empty host is not all black", w * h - black)


def guest(path, bg):
    w, h, px = load(path)
    bg = rgb(bg)
    n = w * h
    b = count(w, h, px, lambda c: c == bg)
    black = count(w, h, px, lambda c: max(c) < 0x10)
    print("%s: %dx%d, %d%% guest background #%02x%02x%02x, %d%% black"
          % (os.path.basename(path), w, h, 100 * b // n, bg[0], bg[1], bg[2], 100 * black // n))
    if b * 100 < 60 * n:
        # what the host shows instead (a swapped channel order shows up here)
        hist = {}
        for y in range(0, h, 8):
            for x in range(0, w, 8):
                hist[px(x, y)] = hist.get(px(x, y), 0) + 1
        top = sorted(hist.items(), key=lambda kv: -kv[1])[:5]
        print("most common colours (1 in 64 samples): %s" % ", ".join("#%02x%02x%02x x%d" % (c + (k,)) for c, k in top))
    assert black * 100 < 50 * n, "mostly black: the host shows no guest window"
    assert b * 100 >= 60 * n, ("less than 60 % of the host frame is the guest background", b, n)
    # weston-simple-shm's window: a 250x250 white-framed square somewhere below the panel
    # (whose clock and launcher icon have white pixels too).
    ph = panel_height(w, h, px)
    print("panel: %d rows" % ph)
    wpx = [(x, y) for y in range(ph, h) for x in range(w) if white(px(x, y))]
    assert wpx, "no white pixel: weston-simple-shm's window is not shown"
    x0, y0, x1, y1 = bbox(wpx)
    print("white bbox (%d,%d)-(%d,%d) = %dx%d" % (x0, y0, x1, y1, x1 - x0, y1 - y0))
    assert (x1 - x0, y1 - y0) == (SHM, SHM), ("simple-shm window size", x1 - x0, y1 - y0)
    ring = [(x, y) for y in range(y0, y1) for x in range(x0, x1)
            if not (x0 + SHM_PAD <= x < x1 - SHM_PAD and y0 + SHM_PAD <= y < y1 - SHM_PAD)]
    rw = sum(1 for p in ring if white(px(*p)))
    assert rw == len(ring), ("simple-shm's white frame incomplete", rw, len(ring))


def same(shot, frame):
    w, h, a = load(shot)
    fw, fh, b = load(frame)
    assert (w, h) == (fw, fh), ("host screenshot and guest frame differ in size", (w, h), (fw, fh))
    eq = sum(1 for y in range(h) for x in range(w) if a(x, y) == b(x, y))
    print("host screenshot = guest CRTC frame in %d%% of the pixels" % (100 * eq // (w * h)))
    assert eq * 100 >= 85 * w * h, ("host screenshot and guest frame differ", eq, w * h)


def opaque(shot, out):
    w, h, px = load(shot)
    rows = b"".join(b"\0" + bytes(v for x in range(w) for v in px(x, y)) for y in range(h))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))
    with open(out, "wb") as f:
        f.write(png)
    print("%s: %dx%d RGB, %d bytes" % (out, w, h, len(png)))


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"empty": empty, "guest": guest, "same": same, "opaque": opaque}[cmd](*args)
