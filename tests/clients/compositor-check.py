"""Checks for the compositor tests: pixels of frames fakedrm captured, and presentation timing
reported by weston-presentation-shm. Every check prints what it measured and exits non-zero
(AssertionError) when the frame or the timing is not what the compositor should have produced.

  compositor-check.py weston-desktop FRAME.png
      desktop-shell's dark panel at the top, the grey default background, and weston-simple-shm's
      250x250 window (20 px white frame around its colour rings) found wherever weston placed it.
  compositor-check.py weston-desktop-only FRAME.png
      panel + background, no client window (e.g. after a hotplug).
  compositor-check.py sway-client FRAME.png RRGGBB
      swaybg's solid RRGGBB everywhere except weston-presentation-shm's 250x250 floating window,
      which sway centres; inside it the pure red/green/blue/white/black of its pie and checkers.
  compositor-check.py sway-bg FRAME.png RRGGBB
      the whole frame is RRGGBB.
  compositor-check.py pacing SESSION.txt [--virtual [--every-vblank]] [--min-frames N] [--prefix P]
      wl_output's current refresh (wayland-info) against the "p2p" presentation intervals that
      weston-presentation-shm printed (lines prefixed "pres: ", or P).
  fakedrm ctl state | compositor-check.py state-line
      the parts of the card state the leak checks need, as one JSON line.
  compositor-check.py leak SESSION.txt IDLE AFTER [AFTER2]
      "state_AFTER: ..." (a compositor has exited) has no files, framebuffers, user blobs,
      dumb buffers, pending commits, vblank waiters, queued events or pending release fences;
      with AFTER2 (the same compositor started and stopped again), the object count is the same.
  compositor-check.py kernel-objects SESSION.txt IDLE AFTER
      the object count after exit is what the kernel would have: the idle card's objects plus
      one mode blob per CRTC the compositor left lit.
"""
import json
import re, sys, os
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from pngread import load

SHM = 250          # weston-simple-shm and weston-presentation-shm draw 250x250 surfaces
SHM_PAD = 20       # simple-shm leaves a 20 px white (0xffffffff) frame around its pattern


def white(c):
    # desktop-shell fades new windows in: the tail of the fade may still be 254 or so
    return c[0] == c[1] == c[2] >= 0xf0


def grey(c):
    return all(0x50 < v < 0xb0 for v in c) and max(c) - min(c) < 0x20


def panel_height(w, h, px):
    """Rows from the top where most samples are dark (desktop-shell's panel)."""
    for y in range(0, min(h, 120)):
        dark = sum(1 for x in range(4, w, 8) if max(px(x, y)) < 0x50)
        if dark < (w // 8) // 2:
            return y
    return 120


def bbox(points):
    xs = [p[0] for p in points]; ys = [p[1] for p in points]
    return (min(xs), min(ys), max(xs) + 1, max(ys) + 1)


def weston_desktop(path, client=True):
    w, h, px = load(path)
    ph = panel_height(w, h, px)
    print("%s: %dx%d, panel %d rows" % (os.path.basename(path), w, h, ph))
    assert 20 <= ph <= 60, ("no desktop-shell panel at the top", ph)
    win = None
    if client:
        wpx = [(x, y) for y in range(ph, h) for x in range(w) if white(px(x, y))]
        assert wpx, "no white pixel below the panel: weston-simple-shm's window is not shown"
        x0, y0, x1, y1 = bbox(wpx)
        print("white bbox (%d,%d)-(%d,%d) = %dx%d" % (x0, y0, x1, y1, x1 - x0, y1 - y0))
        assert (x1 - x0, y1 - y0) == (SHM, SHM), ("simple-shm window size", x1 - x0, y1 - y0)
        ring = [(x, y) for y in range(y0, y1) for x in range(x0, x1)
                if not (x0 + SHM_PAD <= x < x1 - SHM_PAD and y0 + SHM_PAD <= y < y1 - SHM_PAD)]
        ring_white = sum(1 for p in ring if white(px(*p)))
        assert ring_white == len(ring), ("white frame incomplete", ring_white, len(ring))
        inner = [px(x, y) for y in range(y0 + SHM_PAD, y1 - SHM_PAD) for x in range(x0 + SHM_PAD, x1 - SHM_PAD)]
        colours = set(inner)
        saturated = sum(1 for c in inner if max(c) - min(c) > 0x80)
        print("interior: %d distinct colours, %d%% saturated" % (len(colours), 100 * saturated // len(inner)))
        assert len(colours) >= 50, ("simple-shm's rings have many colours", len(colours))
        assert saturated * 5 >= len(inner), ("simple-shm's rings are saturated", saturated, len(inner))
        win = (x0, y0, x1, y1)
    samples = [(x, y) for y in range(ph + 8, h, 24) for x in range(8, w, 24)
               if not (win and win[0] - 2 <= x < win[2] + 2 and win[1] - 2 <= y < win[3] + 2)]
    g = sum(1 for p in samples if grey(px(*p)))
    print("background: %d/%d samples grey, e.g. %s" % (g, len(samples), px(*samples[len(samples) // 2])))
    assert g * 100 >= 95 * len(samples), ("desktop-shell's grey background", g, len(samples))


def rgb(hexstr):
    return tuple(int(hexstr[i:i + 2], 16) for i in (0, 2, 4))


def sway_client(path, bg):
    w, h, px = load(path)
    bg = rgb(bg)
    other = [(x, y) for y in range(h) for x in range(w) if px(x, y) != bg]
    print("%s: %dx%d, %d pixels not background" % (os.path.basename(path), w, h, len(other)))
    assert other, "only background: the client's window is not shown"
    x0, y0, x1, y1 = bbox(other)
    want = ((w - SHM) // 2, (h - SHM) // 2, (w - SHM) // 2 + SHM, (h - SHM) // 2 + SHM)
    print("non-background bbox (%d,%d)-(%d,%d), expected the centred floating window %s" % (x0, y0, x1, y1, want))
    assert (x0, y0, x1, y1) == want, ("presentation-shm window placement", (x0, y0, x1, y1), want)
    inside = {}
    for y in range(y0, y1):
        for x in range(x0, x1):
            c = px(x, y); inside[c] = inside.get(c, 0) + 1
    need = {"red": (255, 0, 0), "green": (0, 255, 0), "blue": (0, 0, 255), "white": (255, 255, 255), "black": (0, 0, 0)}
    counts = {k: inside.get(c, 0) for k, c in need.items()}
    print("window pixels:", counts)
    for k, n in counts.items():
        assert n >= 500, ("presentation-shm's %s" % k, n)


def sway_bg(path, bg):
    w, h, px = load(path)
    bg = rgb(bg)
    bad = sum(1 for y in range(0, h, 4) for x in range(0, w, 4) if px(x, y) != bg)
    print("%s: %dx%d, %d sampled pixels differ from #%02x%02x%02x" % ((os.path.basename(path), w, h, bad) + bg))
    assert bad == 0, bad


def pacing(path, virtual=False, min_frames=None, prefix="pres", every_vblank=False):
    text = open(path).read()
    # wayland-info: "width: W px, height: H px, refresh: R Hz," then "flags: current ..."
    cur = re.findall(r"width: (\d+) px, height: (\d+) px, refresh: ([0-9.]+) Hz,\s*\n(?:output: )?\s*flags: current", text)
    assert cur, "no current mode in wayland-info's wl_output"
    w, h, hz = int(cur[0][0]), int(cur[0][1]), float(cur[0][2])
    period = 1e6 / hz
    rows = re.findall(r"^" + prefix + r": +\d+: f2c .*?p2p +(\d+) us, t2p +-?\d+, \[([a-z_]+)\], seq (\d+)$", text, re.M)
    assert len(rows) >= 3, ("presentation-shm printed %d frames" % len(rows))
    p2p = [int(r[0]) for r in rows[1:]]          # the first frame has no predecessor (p2p 0)
    # "discarded N": commit N was replaced before it reached the screen
    discarded = [int(n) for n in re.findall(r"^" + prefix + r": +discarded (\d+)$", text, re.M)]
    seq = [int(r[2]) for r in rows]
    flags = [r[1] for r in rows]
    med = sorted(p2p)[len(p2p) // 2]
    one = sum(1 for v in p2p if abs(v - period) <= 0.02 * period)
    # every interval is a whole number of refresh periods, and the MSC moved by that number
    aligned = sum(1 for v in p2p if v > 0 and abs(v / period - round(v / period)) <= 0.02)
    msc_ok = sum(1 for i, v in enumerate(p2p) if seq[i + 1] - seq[i] == round(v / period))
    hw = sum(1 for f in flags if "s" in f and "c" in f and "e" in f)
    print("mode %dx%d@%.3f Hz (period %.1f us); %d frames; p2p median %d us, %d/%d one period apart, "
          "%d/%d whole periods, %d/%d MSC steps agree, %d/%d flagged vsync+hw clock+hw completion; "
          "p2p min %d max %d; discarded %s" % (w, h, hz, period, len(rows), med, one, len(p2p), aligned, len(p2p),
                                 msc_ok, len(p2p), hw, len(flags), min(p2p), max(p2p), discarded or "none"))
    # sway commits the first buffers before the window is mapped; later ones must all be shown
    assert all(n <= 3 for n in discarded), ("frames discarded after start-up", discarded)
    if min_frames:
        assert len(rows) >= min_frames, ("frames", len(rows), min_frames)
    assert hw == len(flags), "presentation feedback without vsync/hw-clock/hw-completion flags"
    if virtual:
        # virtual time: the clock moves by exact periods (ns), presentation-shm prints us; a
        # client too slow for `vblank rate` misses vblanks, but never lands between them.
        # --every-vblank: time waits for the client (--virtual-time), so it misses none.
        assert all(abs(v - round(v / period) * period) <= round(v / period) for v in p2p), \
            ("virtual time intervals not exact periods", sorted(set(p2p)))
        if every_vblank:
            assert all(abs(v - period) <= 1 for v in p2p), ("virtual time intervals", sorted(set(p2p)))
        assert msc_ok == len(p2p), "MSC (seq) does not advance with the timestamps"
    else:
        # How many vblanks a client misses depends on the machine's load, not on the card; the
        # card's refresh is p2p / (MSC steps) of every interval, which must be one period (the
        # grid check below); none may be shorter. Frames on consecutive vblanks are not
        # required: with two busy loops on two cores weston makes none, every other vblank.
        assert min(p2p) >= 0.98 * period, ("an interval shorter than the period", min(p2p), period)
        # The card's part is that presentations fall on the vblank grid of the mode and the MSC
        # counts the periods in between, as on vkms, also when the vblank thread wakes late.
        off = [(rows[i + 1][2], v, seq[i + 1] - seq[i]) for i, v in enumerate(p2p)
               if abs(v / period - round(v / period)) > 0.02 or seq[i + 1] - seq[i] != round(v / period)]
        assert not off, "presentations off the vblank grid / MSC not counting the periods: %d/%d, e.g. %s" % (
            len(off), len(p2p), "; ".join("seq %s: p2p %d us = %.2f periods, MSC +%d" % (s_, v, v / period, d) for s_, v, d in off[:3]))
        print("grid: ok")

COUNTERS = ("files", "framebuffers", "user_blobs", "buffers", "pending_commits", "vblank_waiters",
            "queued_events", "release_fences_pending")


def state_line():
    d = json.load(sys.stdin)
    print(json.dumps({
        "summary": d["summary"],
        "crtcs": [{"active": c["active"], "mode": (c.get("mode") or {}).get("name"),
                   "vblank": c["vblank"]["count"]} for c in d["crtcs"]],
        "user_blobs": [{"id": b["id"], "length": b["length"], "owner_file": b["owner_file"]}
                       for b in d["blobs"] if "owner_file" in b],
        "connectors": [[c["name"], c["status"]] for c in d["connectors"]],
        "planes": [[p["type"], p["fb_id"], p["crtc_id"]] for p in d["planes"]],
    }, sort_keys=True))


def states(path):
    return {m.group(1): json.loads(m.group(2))
            for m in re.finditer(r"^state_(\S+): (\{.*\})$", open(path).read(), re.M)}


def leak(path, idle, after, after2=None):
    st = states(path)
    s0, s1 = st[idle], st[after]
    left = {k: s1["summary"][k] for k in COUNTERS if s1["summary"][k]}
    print("after exit: %s; objects %d (idle card %d); CRTCs %s; blobs kept: %s" % (
        "every counter 0" if not left else "LEFT %s" % left, s1["summary"]["objects"],
        s0["summary"]["objects"], ["%s %s" % ("lit" if c["active"] else "off", c["mode"]) for c in s1["crtcs"]],
        ["%d B" % b["length"] for b in s1["user_blobs"]] or "none"))
    assert not left, ("left after exit", left)
    if after2:
        s2 = st[after2]
        left2 = {k: s2["summary"][k] for k in COUNTERS if s2["summary"][k]}
        print("after a second run: %s; objects %d" % ("every counter 0" if not left2 else "LEFT %s" % left2,
                                                      s2["summary"]["objects"]))
        assert not left2, ("left after the second run", left2)
        assert s2["summary"]["objects"] == s1["summary"]["objects"], "objects grow from run to run"


def kernel_objects(path, idle, after):
    st = states(path)
    s0, s1 = st[idle], st[after]
    lit = sum(1 for c in s1["crtcs"] if c["active"])
    want = s0["summary"]["objects"] + lit
    print("objects after exit %d, the kernel would keep %d (idle %d + %d mode blob(s) of lit CRTCs); "
          "blobs kept: %s" % (s1["summary"]["objects"], want, s0["summary"]["objects"], lit,
                              ", ".join("%d B (owner file %s)" % (b["length"], b["owner_file"]) for b in s1["user_blobs"]) or "none"))
    assert s1["summary"]["objects"] == want


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "weston-desktop": weston_desktop(args[0])
    elif cmd == "weston-desktop-only": weston_desktop(args[0], client=False)
    elif cmd == "sway-client": sway_client(args[0], args[1])
    elif cmd == "sway-bg": sway_bg(args[0], args[1])
    elif cmd == "pacing":
        mf = int(args[args.index("--min-frames") + 1]) if "--min-frames" in args else None
        pre = args[args.index("--prefix") + 1] if "--prefix" in args else "pres"
        pacing(args[0], "--virtual" in args, mf, pre, "--every-vblank" in args)
    elif cmd == "state-line": state_line()
    elif cmd == "leak": leak(*args)
    elif cmd == "kernel-objects": kernel_objects(*args)
    else: raise SystemExit("unknown check " + cmd)
