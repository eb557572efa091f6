#!/usr/bin/env python3
"""First frame with a fine clock: the kiosk and a Chromium kiosk on one Xvfb 1080x1920 screen,
timed by the X server's own Damage events on the root window instead of polling captures.

The X server reports every drawing anywhere on the screen (a DamageNotify per rectangle, the
way x11vnc watches a screen); each report is read at once and the damaged rectangle fetched
to see whether it holds anything but the black background. For each program:

- first_frame_s: exec to the first damage that is not black (the first pixels of the window),
- settled_s:     exec to the last damage before 0.5 s without any (the welcome screen complete),
- pss_mb:        PSS of the whole process tree 5 s after settling.

Both programs are measured the same way, alternately, ROUNDS times each; medians are printed
as one JSON line. Needs Xvfb, chromium and python-xlib (`pip install python-xlib`).

usage: first_frame.py KIOSK_APP_BINARY KIOSK_TOML WELCOME_HTML [ROUNDS]
"""
import json, os, select, statistics, subprocess, sys, tempfile, time

from Xlib import X, display
from Xlib.ext import damage

KIOSK, KCFG, HTML = sys.argv[1], sys.argv[2], os.path.abspath(sys.argv[3])
ROUNDS = int(sys.argv[4]) if len(sys.argv) > 4 else 5
DISP = ":78"
QUIET = 0.5


def tree_pss(root):
    """PSS (MB) and process count of `root` and all its descendants."""
    def ppid(p):
        try:
            return int(open(f"/proc/{p}/stat").read().rsplit(")", 1)[1].split()[1])
        except Exception:
            return -1
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    tree, grown = {root}, True
    while grown:
        grown = False
        for p in pids:
            if p not in tree and ppid(p) in tree:
                tree.add(p)
                grown = True
    pss = 0
    for p in tree:
        try:
            pss += sum(int(l.split()[1]) for l in open(f"/proc/{p}/smaps_rollup") if l.startswith("Pss:"))
        except Exception:
            pass
    return pss / 1024, len(tree)


def not_black(root, a):
    """Whether the rectangle `a` of the screen holds a pixel other than the black background."""
    if a.width <= 0 or a.height <= 0:
        return False
    try:
        img = root.get_image(a.x, a.y, a.width, a.height, X.ZPixmap, 0x00FFFFFF)
    except Exception:
        return False  # the rectangle went off screen or the window away
    return any(img.data)


def measure(d, root, cmd, env):
    """One start of `cmd`: the damage timeline, then the tree's PSS."""
    while d.pending_events():
        d.next_event()
    first = last = None
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    fd = d.fileno()
    while time.monotonic() - t0 < 30:
        wait = QUIET if last is not None else 1.0
        if not d.pending_events():
            ready, _, _ = select.select([fd], [], [], wait)
            if not ready:
                if last is not None:
                    break
                if p.poll() is not None:
                    break
                continue
        ev = d.next_event()
        now = time.monotonic()
        if ev.type != d.extension_event.DamageNotify:
            continue
        d.damage_subtract(ev.damage, X.NONE, X.NONE)
        if first is None:
            if not not_black(root, ev.area):
                continue
            first = now - t0
        last = now - t0
    time.sleep(5)
    pss, n = tree_pss(p.pid) if p.poll() is None else (None, 0)
    p.terminate()
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    # the window gone, the screen is black again; let its last damage pass
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        if d.pending_events() or select.select([fd], [], [], 0.1)[0]:
            ev = d.next_event()
            if ev.type == d.extension_event.DamageNotify:
                d.damage_subtract(ev.damage, X.NONE, X.NONE)
    return {"first_frame_s": first, "settled_s": last, "pss_mb": pss, "processes": n}


def main():
    xvfb = subprocess.Popen(["Xvfb", DISP, "-screen", "0", "1080x1920x24", "-br", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            d = display.Display(DISP)
            break
        except Exception:
            time.sleep(0.05)
    else:
        sys.exit("Xvfb did not start")
    if not d.has_extension("DAMAGE"):
        sys.exit("this X server has no Damage extension")
    d.damage_query_version(1, 1)
    root = d.screen().root
    root.damage_create(damage.DamageReportRawRectangles)
    d.flush()
    env = dict(os.environ, DISPLAY=DISP, MADOGUCHI_CONFIG=KCFG, RUST_LOG="warn")
    env.pop("WAYLAND_DISPLAY", None)
    chrome = ["chromium", "--kiosk", "--no-sandbox", "--disable-gpu", "--no-first-run",
              "--disable-background-networking", "--disable-component-update", "--disable-sync",
              "--window-position=0,0", "--window-size=1080,1920"]
    res = {"kiosk-app": [], "chromium": []}
    try:
        for _ in range(ROUNDS):
            res["kiosk-app"].append(measure(d, root, [KIOSK, "--config", KCFG], env))
            ud = tempfile.mkdtemp()
            res["chromium"].append(measure(d, root, chrome + [f"--user-data-dir={ud}", f"file://{HTML}"], env))
    finally:
        xvfb.terminate()
    out = {}
    for k, rs in res.items():
        def med(key):
            v = [r[key] for r in rs if r[key] is not None]
            return round(statistics.median(v), 4) if v else None
        out[k] = {"first_frame_s": med("first_frame_s"), "settled_s": med("settled_s"),
                  "pss_mb": med("pss_mb"), "processes": rs[0]["processes"],
                  "first_frames": [r["first_frame_s"] and round(r["first_frame_s"], 4) for r in rs]}
    k, c = out["kiosk-app"], out["chromium"]
    out["chromium_over_kiosk"] = {key: round(c[key] / k[key], 1)
                                  for key in ("first_frame_s", "settled_s", "pss_mb") if k[key] and c[key]}
    print(json.dumps(out, ensure_ascii=False))


if __name__ == "__main__":
    main()
