#!/usr/bin/env python3
"""Opens the fluid demo in headless Chromium (WebGPU through SwiftShader), lets it run, stirs
it with a drag, and prints its steps per second and kernels per step; saves a screenshot.
Then presses "Pause and inspect a step" and saves a screenshot of kiln's inspector in the
page (`<shot>_inspector.png`). Build it first (build.sh). Talks WebDriver to chromedriver
directly: no packages beyond Python's own.

    python3 examples/web/measure.py [seconds] [screenshot.png]
"""
import base64, functools, http.server, json, os, socket, subprocess, sys, threading, time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ARGS = ["--headless=new", "--no-sandbox", "--enable-unsafe-webgpu",
        "--use-webgpu-adapter=swiftshader", "--disable-dev-shm-usage",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", "--enable-unsafe-swiftshader", "--window-size=1400,1650"]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(base + path, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())["value"]


def main():
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 20
    shot = sys.argv[2] if len(sys.argv) > 2 else "target/fluid_web.png"
    if not os.path.exists(os.path.join(HERE, "pkg", "kiln_fluid_web.js")):
        sys.exit("examples/web/pkg is missing: run examples/web/build.sh first")
    page_port, driver_port = free_port(), free_port()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

    handler = functools.partial(Quiet, directory=HERE)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    driver = subprocess.Popen([os.environ.get("CHROMEDRIVER", "chromedriver"),
                               f"--port={driver_port}"], stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{driver_port}"
    try:
        for _ in range(100):
            try:
                call(base, "GET", "/status")
                break
            except OSError:
                time.sleep(0.1)
        caps = {"capabilities": {"alwaysMatch": {"goog:chromeOptions": {"args": ARGS},
                                                 "goog:loggingPrefs": {"browser": "ALL"}}}}
        session = call(base, "POST", "/session", caps)["sessionId"]
        s = f"/session/{session}"
        call(base, "POST", s + "/url", {"url": f"http://127.0.0.1:{page_port}/index.html"})
        time.sleep(seconds / 2)
        # Stir: a drag across the canvas, as a user's mouse would.
        canvas = call(base, "POST", s + "/element",
                      {"using": "css selector", "value": "#fluid"})
        element = next(iter(canvas.values()))
        moves = [{"type": "pointerMove", "duration": 0, "origin": {"element-6066-11e4-a52e-4f735466cecf": element}, "x": -150, "y": 120},
                 {"type": "pointerDown", "button": 0}]
        moves += [{"type": "pointerMove", "duration": 100, "origin": "pointer", "x": 15, "y": -12}
                  for _ in range(20)]
        moves += [{"type": "pointerUp", "button": 0}]
        call(base, "POST", s + "/actions", {"actions": [
            {"type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
             "actions": moves}]})
        time.sleep(seconds / 2)
        rate = call(base, "POST", s + "/execute/sync",
                    {"script": "return window.kilnFluid || null", "args": []})
        text = call(base, "POST", s + "/execute/sync",
                    {"script": "return document.getElementById('stats').textContent", "args": []})
        png = base64.b64decode(call(base, "GET", s + "/screenshot"))
        os.makedirs(os.path.dirname(shot) or ".", exist_ok=True)
        with open(shot, "wb") as f:
            f.write(png)
        button = call(base, "POST", s + "/element",
                      {"using": "css selector", "value": "#inspect"})
        call(base, "POST", s + f"/element/{next(iter(button.values()))}/click", {})
        opened = False
        for _ in range(120):
            time.sleep(0.5)
            opened = call(base, "POST", s + "/execute/sync",
                          {"script": "return window.kilnInspectorOpen === true", "args": []})
            if opened:
                break
        time.sleep(4)  # the inspector's first frames
        inspector_shot = shot.replace(".png", "_inspector.png")
        with open(inspector_shot, "wb") as f:
            f.write(base64.b64decode(call(base, "GET", s + "/screenshot")))
        logs = call(base, "POST", s + "/se/log", {"type": "browser"})
        call(base, "DELETE", s)
        for entry in logs:
            print("console:", entry["message"][:2000])
        print(text)
        print(json.dumps(rate))
        print(f"screenshot: {shot}")
        print(f"inspector {'opened' if opened else 'did NOT open'}: {inspector_shot}")
        if not rate or rate["stepsPerSecond"] <= 0:
            sys.exit("the demo did not step (see the screenshot)")
    finally:
        driver.terminate()
        server.shutdown()


main()
