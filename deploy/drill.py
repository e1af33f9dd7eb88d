"""The failure drill (docs/deploy.md "The failure drill"): the production profile of deploy/ on
this machine, a bounded load of learners from several client addresses, and failures on
purpose; then the checks. Run as root: `deploy/drill` (or `make drill`). Not part of the tests.

What it starts (all its own, all stopped at the end):
  - two app nodes, each `cpe-web`'s ExecStart (deploy/systemd/cpe-web.service) in its own network
    namespace (cpe-drill-n1 10.77.1.2, cpe-drill-n2 10.77.2.2, veth pairs to the host side
    10.77.1.1 / 10.77.2.1), PostgreSQL reached through its Unix socket (the machine's server,
    database cpe_deploy_drill), Redis and the AIS simulator over the veth;
  - nginx (Debian's package) with deploy/nginx/cpe.conf, on 127.0.0.1:8170, plain HTTP (paths,
    the upstream addresses and the listening port substituted; the TLS server is not used);
  - Redis on port 6390 with deploy/redis/cpe-redis.conf (AOF), the Celery worker, the AIS-report
    worker and beat from their units, the AIS simulator (8171), an S3-compatible store (moto, 8172).
The load: payers (sign in, buy, pay at the sandbox gateway, which notifies the platform), players
(heartbeats every LEARNING_HEARTBEAT_SECONDS on the token door, one old stream each for some),
examinees (submit a paper: credit, then an AIS report), a staff export; clients bound to
127.0.0.2-127.0.0.9. Meanwhile: node 1 killed (SIGKILL) and restarted, the worker killed
(SIGKILL) while its queue is busy and restarted, Redis killed (SIGKILL) and restarted from its AOF.
Last line: RESULT nodes=2 requests=… errors_5xx=… lost_payments=… double_reports=… lost_seconds=…
max_lost_seconds_per_learner=…"""

import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = str(ROOT / ".venv" / "bin" / "python")
BIN = ROOT / ".venv" / "bin"
WORK = Path(os.environ.get("DRILL_DIR", "/tmp/cpe-drill"))
DB = os.environ.get("DRILL_DB", "cpe_deploy_drill")
NGINX_PORT, AIS_PORT, S3_PORT, REDIS_PORT = 8170, 8171, 8172, 6390
NODES = {"n1": ("10.77.1.1", "10.77.1.2"), "n2": ("10.77.2.1", "10.77.2.2")}
NODE_PORT = 8000
CLIENTS = [f"127.0.0.{i}" for i in range(2, 10)]
BANNED = "127.0.0.66"
BEAT = 5  # LEARNING_HEARTBEAT_SECONDS in the drill: the write-behind interval too
RUN_SECONDS = int(os.environ.get("DRILL_SECONDS", "150"))
PAYERS, PLAYERS, OLD_STREAMS, EXAMINEES = 12, 16, 4, 8
PASSWORD = "drill-password-1"

procs: dict = {}
t0 = time.time()
# systemd's Restart=always (RestartSec=2) for the units' processes: a process that exits is
# started again, except while the drill holds it down on purpose.
supervised: dict = {}
held: set = set()
restarts: list = []


def say(msg):
    print(f"[drill +{time.time() - t0:5.1f}s] {msg}", flush=True)


def sh(cmd, check=True, **kw):
    return subprocess.run(cmd, shell=isinstance(cmd, str), check=check, **kw)


# --- environment ---------------------------------------------------------------------------------
def keys_env() -> dict:
    out = subprocess.run(
        [str(ROOT / "deploy" / "keys-generate")], capture_output=True, text=True, check=True
    ).stdout
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def platform_env(keys, *, node=None) -> dict:
    host = NODES[node][0] if node else "127.0.0.1"
    return {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(WORK),
        "LANG": "C.UTF-8",
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DATABASE_URL": f"postgres://postgres@%2Fvar%2Frun%2Fpostgresql/{DB}",
        "REDIS_URL": f"redis://{host}:{REDIS_PORT}/0",
        "CACHE_KEY_PREFIX": "drill",
        "TRUSTED_PROXY_COUNT": "1",
        "SECURE_SSL_REDIRECT": "0",
        "ALLOWED_HOSTS": ",".join(["127.0.0.1", *(h for h, _ in NODES.values())]),
        "PAYMENT_SANDBOX": "1",
        # The sandbox gateway runs inside the platform and notifies SITE_URL: the node reaches
        # nginx at its own host-side address.
        "SITE_URL": f"http://{host}:{NGINX_PORT}",
        "CPE_VAR_DIR": str(WORK / "var"),
        "COURSEWARE_ROOT": str(WORK / "var" / "courseware"),
        "EXPORT_ROOT": str(WORK / "private" / "exports"),
        "COURSEWARE_ACCEL_PREFIX": "/_courseware",
        "CPE_AIS_QUEUE": "ais",
        "AIS_BASE_URL": f"http://{host}:{AIS_PORT}",
        "LEARNING_HEARTBEAT_SECONDS": str(BEAT),
        "OPS_ALLOWED_NETWORKS": "127.0.0.1/32,10.77.0.0/16",
        "LOG_FORMAT": "json",
        "CPE_AUDIT_HEADS_FILE": str(WORK / "audit-heads.log"),
        "S3_ENDPOINT_URL": f"http://{host}:{S3_PORT}",
        "S3_BUCKET": "cpe-drill",
        "S3_ACCESS_KEY_ID": "drill",
        "S3_SECRET_ACCESS_KEY": "drill-secret",
        "S3_REGION": "us-east-1",
        **keys,
    }


def unit_exec(name: str) -> tuple[list, dict]:
    """The ExecStart and Environment= of a unit in deploy/systemd, as systemd would run them
    (%% -> %), with /srv/cpe/app read as this checkout."""
    text = (ROOT / "deploy" / "systemd" / f"{name}.service").read_text()
    line = re.search(r"^ExecStart=(.+)$", text, re.M).group(1)
    argv = [a.replace("%%", "%").replace("/srv/cpe/app", str(ROOT)) for a in shlex.split(line)]
    env = dict(e.split("=", 1) for e in re.findall(r"^Environment=(\S+)$", text, re.M))
    # What systemd would create: StateDirectory= under /var/lib, RuntimeDirectory= under /run;
    # the drill's own directories instead.
    for key, base in (("StateDirectory", "/var/lib/"), ("RuntimeDirectory", "/run/")):
        for name in re.findall(rf"^{key}=(\S+)$", text, re.M):
            mine = WORK / "state" / name
            mine.mkdir(parents=True, exist_ok=True)
            argv = [a.replace(base + name, str(mine)) for a in argv]
            env = {k: v.replace(base + name, str(mine)) for k, v in env.items()}
    return argv, env


def start(name, argv, env, *, netns=None, log=None):
    if netns:
        argv = ["ip", "netns", "exec", netns, *argv]
    out = open(WORK / "logs" / f"{log or name}.log", "ab")
    procs[name] = subprocess.Popen(
        argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
    )
    return procs[name]


def kill(name, sig=signal.SIGKILL):
    p = procs.get(name)
    if p and p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)


def wait_http(url, seconds=40, source=None):
    import requests

    end = time.time() + seconds
    while time.time() < end:
        try:
            if requests.get(url, timeout=2).status_code < 500:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not answer")


# --- network -----------------------------------------------------------------------------------
def net_up():
    for n, (host, addr) in NODES.items():
        ns, h, g = f"cpe-drill-{n}", f"cpedr-{n}h", f"cpedr-{n}g"
        sh(f"ip netns del {ns}", check=False, stderr=subprocess.DEVNULL)
        sh(f"ip link del {h}", check=False, stderr=subprocess.DEVNULL)
        sh(f"ip netns add {ns}")
        sh(f"ip link add {h} type veth peer name {g}")
        sh(f"ip link set {g} netns {ns}")
        sh(f"ip addr add {host}/24 dev {h} && ip link set {h} up")
        sh(
            f"ip netns exec {ns} sh -c 'ip link set lo up "
            f"&& ip addr add {addr}/24 dev {g} && ip link set {g} up "
            f"&& ip route add default via {host}'"
        )
    say("network namespaces cpe-drill-n1 (10.77.1.2) and cpe-drill-n2 (10.77.2.2) up")


def net_down():
    for n in NODES:
        sh(f"ip netns del cpe-drill-{n}", check=False, stderr=subprocess.DEVNULL)
        sh(f"ip link del cpedr-{n}h", check=False, stderr=subprocess.DEVNULL)


# --- services --------------------------------------------------------------------------------------
def start_redis():
    (WORK / "redis").mkdir(exist_ok=True)
    binds = " ".join(["127.0.0.1", *(h for h, _ in NODES.values())])
    start(
        "redis",
        [
            "redis-server",
            str(ROOT / "deploy" / "redis" / "cpe-redis.conf"),
            "--port",
            str(REDIS_PORT),
            "--bind",
            *binds.split(),
            "--dir",
            str(WORK / "redis"),
            "--protected-mode",
            "no",
            "--daemonize",
            "no",
            "--save",
            "",
        ],
        os.environ.copy(),
    )
    for _ in range(100):
        if sh(f"redis-cli -p {REDIS_PORT} ping", check=False, capture_output=True).stdout.strip() == b"PONG":
            # AOF loaded (or empty): ready
            info = sh(f"redis-cli -p {REDIS_PORT} info persistence", capture_output=True, text=True).stdout
            if "loading:0" in info:
                return
        time.sleep(0.1)
    raise RuntimeError("redis did not start")


def nginx_conf():
    src = (ROOT / "deploy" / "nginx" / "cpe.conf").read_text()
    # the TLS server only: plain HTTP on the drill's port, no port-80 redirect server
    src = re.sub(r"server \{\n    listen 80;.*?\n\}\n", "", src, flags=re.S)
    src = src.replace(
        "listen 443 ssl http2;",
        f"listen 127.0.0.1:{NGINX_PORT};\n    listen 10.77.1.1:{NGINX_PORT};\n"
        f"    listen 10.77.2.1:{NGINX_PORT};",
    )
    src = re.sub(r"\n    listen \[::\]:443 ssl http2;", "", src)
    src = re.sub(r"\n    ssl_\S+ [^\n]*;", "", src)
    upstream = "".join(
        f"    server {addr}:{NODE_PORT} max_fails=1 fail_timeout=5s;\n" for _, addr in NODES.values()
    )
    src = re.sub(r"(    server \S+ max_fails=1 fail_timeout=5s;   # cpe-upstream\n)+", upstream, src)
    src = src.replace("/srv/cpe/app", str(ROOT)).replace("/srv/cpe/var", str(WORK / "var"))
    src = src.replace("/var/log/nginx/", str(WORK / "logs") + "/nginx-")
    (WORK / "nginx-site.conf").write_text(src)
    (WORK / "nginx.conf").write_text(
        f"user root;\nworker_processes 1;\npid {WORK}/nginx.pid;\n"
        f"error_log {WORK}/logs/nginx-main.error.log;\n"
        f"events {{ worker_connections 1024; }}\n"
        f"http {{\n  include /etc/nginx/mime.types;\n  default_type application/octet-stream;\n"
        f"  client_body_temp_path {WORK}/nginx-tmp;\n  proxy_temp_path {WORK}/nginx-tmp;\n"
        f"  include {WORK}/nginx-site.conf;\n}}\n"
    )
    (WORK / "nginx-tmp").mkdir(exist_ok=True)
    sh(["nginx", "-t", "-c", str(WORK / "nginx.conf")], capture_output=True)


def start_node(n, keys):
    argv, unit_env = unit_exec("cpe-web")
    env = {
        **platform_env(keys, node=n),
        "WEB_BIND": f"{NODES[n][1]}:{NODE_PORT}",
        "WEB_WORKERS": "2",
        "WEB_THREADS": "4",
        **unit_env,
        "PROMETHEUS_MULTIPROC_DIR": str(WORK / f"prometheus-{n}"),
    }
    Path(env["PROMETHEUS_MULTIPROC_DIR"]).mkdir(exist_ok=True)
    start(n, argv, env, netns=f"cpe-drill-{n}")
    supervised[n] = lambda: start_node(n, keys)


def start_worker(name, keys):
    argv, unit_env = unit_exec(name)
    start(name, argv, {**platform_env(keys), **unit_env})
    supervised[name] = lambda: start_worker(name, keys)


def supervise(stop):
    while not stop.is_set():
        for name, again in list(supervised.items()):
            p = procs.get(name)
            if name not in held and p is not None and p.poll() is not None:
                restarts.append((time.time(), name, p.returncode))
                say(f"{name} exited (code {p.returncode}): started again, as Restart=always does")
                time.sleep(2)
                again()
        stop.wait(1)


def manage(keys, *args, **kw):
    return sh([PY, "manage.py", *args], env=platform_env(keys), cwd=ROOT, **kw)


# --- the load ------------------------------------------------------------------------------------------
class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.requests = 0
        self.fivexx = []  # (time, status, path)
        self.conn_errors = []  # (time, path)
        self.request_ids = {}  # learner -> [request ids]
        self.signed_out = []  # learners sent to the sign-in page after signing in


def client(source: str):
    import requests
    from requests.adapters import HTTPAdapter

    class Bound(HTTPAdapter):
        def init_poolmanager(self, *a, **kw):
            kw["source_address"] = (source, 0)
            super().init_poolmanager(*a, **kw)

    s = requests.Session()
    s.trust_env = False
    s.mount("http://", Bound())
    return s


class Learner:
    base = f"http://127.0.0.1:{NGINX_PORT}"

    def __init__(self, stats, data, source):
        self.stats, self.d, self.source = stats, data, source
        self.s = client(source)
        self.name = data.get("username", "?")

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 30)
        kw.setdefault("allow_redirects", False)
        try:
            r = self.s.request(method, self.base + path, **kw)
        except Exception:  # noqa: BLE001 - a connection error is counted, the learner goes on
            with self.stats.lock:
                self.stats.requests += 1
                self.stats.conn_errors.append((time.time(), path))
            return None
        # Production cookies are Secure; the drill's nginx serves plain HTTP (no certificate here),
        # so the browser keeps sending them as it would over HTTPS.
        for c in self.s.cookies:
            c.secure = False
        with self.stats.lock:
            self.stats.requests += 1
            if r.status_code >= 500:
                self.stats.fivexx.append((time.time(), r.status_code, path))
            self.stats.request_ids.setdefault(self.name, []).append(r.headers.get("X-Request-ID", ""))
        return r

    def csrf(self):
        return self.s.cookies.get("csrftoken", "")

    def sign_in(self):
        for _ in range(5):
            page = self.req("GET", "/accounts/login/")
            if page is None or page.status_code != 200:
                time.sleep(1)
                continue
            token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
            r = self.req(
                "POST",
                "/accounts/login/",
                data={"csrfmiddlewaretoken": token, "username": self.d["mobile"], "password": PASSWORD},
            )
            if (
                r is not None
                and r.status_code == 302
                and "/accounts/login/" not in r.headers.get("Location", "")
            ):
                return True
            time.sleep(1)
        return False

    def page(self, path):
        r = self.req("GET", path)
        if r is not None and r.status_code == 302 and "/accounts/login/" in r.headers.get("Location", ""):
            self.stats.signed_out.append((time.time(), self.name, path, r.headers["Location"]))
        return r


def payer(stats, data, source, out, stop):
    lr = Learner(stats, data, source)
    if not lr.sign_in():
        out[data["username"]] = {"signed_in": False}
        return
    lr.page("/accounts/dashboard/")
    lr.page("/courses/")
    order = None
    for _ in range(6):
        page = lr.page(f"/orders/buy/{data['product']}/")
        if page is None or page.status_code != 200:
            time.sleep(2)
            continue
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        r = lr.req(
            "POST",
            f"/orders/buy/{data['product']}/",
            data={"csrfmiddlewaretoken": token, "channel": "alipay_page", "ais_confirmed": "1"},
        )
        if r is not None and r.status_code == 302:
            order = r.headers["Location"]
            break
        time.sleep(2)
    if order is None:
        out[data["username"]] = {"signed_in": True, "paid": False}
        return

    # The gateway (the sandbox, on the platform itself, reached through nginx like the real one
    # would be): gateway.do moves on to its cashier, where the buyer presses 支付成功; the sandbox
    # then notifies the platform's webhook from the node that served the press.
    def local(url):
        return "/" + url.split("://", 1)[1].split("/", 1)[1] if "://" in url else url

    pressed, pay_path, nxt = False, "", local(order)
    for _ in range(6):
        r = lr.req("GET", nxt)
        if r is not None and r.status_code == 302 and "/sandbox/pay/" in r.headers.get("Location", ""):
            pay_path = local(r.headers["Location"]).split("?", 1)[0]
            break
        time.sleep(2)
    for _ in range(6 if pay_path else 0):
        page = lr.req("GET", pay_path)
        if page is None or page.status_code != 200:
            time.sleep(2)
            continue
        r = lr.req(
            "POST",
            pay_path,
            data={"csrfmiddlewaretoken": token_of(page) or lr.csrf(), "outcome": "success"},
            headers={"Referer": lr.base + pay_path},
        )
        if r is not None and r.status_code in (200, 302):
            pressed = True
            if r.status_code == 302:
                lr.page(
                    local(r.headers["Location"])
                )  # the return page asks the gateway if no notification came
            break
        time.sleep(2)
    out[data["username"]] = {"signed_in": True, "paid": pressed, "pay_path": pay_path}
    while not stop.is_set():  # then browse like a learner until the end
        lr.page(random.choice(["/accounts/dashboard/", "/orders/", "/courses/", "/credits/"]))
        stop.wait(random.uniform(2, 5))


def player(stats, data, source, earned, stop, old=False):
    lr = Learner(stats, data, source)
    lr.s.cookies.set("sessionid", data["sid"])
    lr.s.cookies.set("csrftoken", data["csrf"])
    key = data["old_key"] if old else data["key"]
    token = data["old_token"] if old else data["token"]
    seq, pos, last = 0, 0.0, time.time() - BEAT
    got = earned.setdefault(
        key,
        {
            "user": data["username"],
            "acked": 0.0,
            "reports": 0,
            "refused": {},
            "old": old,
            "again": [0, 0.0, 0.0],
        },
    )
    n, unanswered = 0, False
    while not stop.is_set():
        now = time.time()
        claim = round(max(0.0, now - last - 0.2), 3)
        seq += 1
        r = lr.req(
            "POST",
            f"/api/learning/sessions/{key}/heartbeat",
            data=json.dumps({"seq": seq, "start": pos, "position": round(pos + claim, 3)}),
            headers={"X-Play-Token": token, "Content-Type": "application/json"},
        )
        if r is not None and r.status_code == 200:
            body = r.json()
            got["acked"] += body["credited"]
            got["reports"] += 1
            if unanswered:  # a claim again from the last acknowledged point: reports, claimed, credited
                got["again"] = [
                    got["again"][0] + 1,
                    got["again"][1] + claim,
                    got["again"][2] + body["credited"],
                ]
            last, pos, unanswered = now, round(pos + claim, 3), False
        wait = BEAT
        if r is not None and r.status_code != 200:
            got["refused"][str(r.status_code)] = got["refused"].get(str(r.status_code), 0) + 1
        if r is None or r.status_code in (502, 503, 504):
            unanswered = True
            # As static/js/player.js does: the next report claims again from the last
            # acknowledged point (pos, last), not before the server's Retry-After.
            wait = max(BEAT, float((r.headers.get("Retry-After") if r is not None else None) or 0))
        n += 1
        if n % 6 == 0 and not old:
            lr.page("/accounts/dashboard/")
        stop.wait(wait)


def examinee(stats, data, source, out, delay):
    time.sleep(delay)
    lr = Learner(stats, data, source)
    lr.s.cookies.set("sessionid", data["sid"])
    lr.s.cookies.set("csrftoken", data["csrf"])
    lr.page(f"/exams/attempt/{data['attempt']}/")
    body = [(f"q{pos}", v) for pos, vals in data["answers"].items() for v in vals]
    body.append(("csrfmiddlewaretoken", data["csrf"]))
    for _ in range(5):
        r = lr.req(
            "POST", f"/exams/attempt/{data['attempt']}/submit/", data=body, headers={"Referer": lr.base + "/"}
        )
        if r is not None and r.status_code == 302:
            out[data["username"]] = "submitted"
            return
        time.sleep(3)
    out[data["username"]] = f"failed {r.status_code if r is not None else 'conn'}"


def lockout_probe(stats, data, other):
    """Five wrong passwords for one account from one address: the lockout is recorded against
    the browser's address (not nginx's); another account signs in from that address."""
    bad = Learner(stats, {**data, "username": data["username"] + "@bad"}, CLIENTS[0])
    codes = []
    for _ in range(5):
        r = bad.req(
            "POST",
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": token_of(bad.req("GET", "/accounts/login/")),
                "username": data["mobile"],
                "password": "wrong-password",
            },
        )
        codes.append(getattr(r, "status_code", None))
    return {
        "wrong_password_answers": codes,
        "other_account_same_address_signs_in": Learner(stats, other, CLIENTS[0]).sign_in(),
    }


def throttle_probe(stats):
    """The public query allows 5 POSTs a minute per address: the sixth from one address is
    refused (429), while another address is still answered: the throttle counts browsers, not
    nginx (through which all of them come)."""
    one, other = (
        Learner(stats, {"username": "query-a"}, CLIENTS[4]),
        Learner(stats, {"username": "query-b"}, CLIENTS[5]),
    )

    def ask(lr):
        token = token_of(lr.req("GET", "/credits/query/"))
        r = lr.req(
            "POST",
            "/credits/query/",
            data={
                "csrfmiddlewaretoken": token,
                "id_number": "150102199003071237",
                "name": "张明",
                "captcha": "0",
            },
            headers={"Referer": lr.base + "/credits/query/"},
        )
        return getattr(r, "status_code", None)

    return {"same_address": [ask(one) for _ in range(6)], "other_address": ask(other)}


def banned_probe(stats):
    lr = Learner(stats, {"username": "banned-visitor"}, BANNED)
    codes = [getattr(lr.req("GET", "/courses/"), "status_code", None) for _ in range(6)]
    return codes


def token_of(page) -> str:
    m = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text) if page is not None else None
    return m.group(1) if m else ""


def staff_export(stats, data, result, year, stop_at):
    """A staff member signs in, starts the year's export (the worker writes it) and downloads it."""
    lr = Learner(stats, data, CLIENTS[-1])
    result["staff_signed_in"] = False
    for _ in range(5):
        token = token_of(lr.req("GET", "/admin/login/"))
        r = lr.req(
            "POST",
            "/admin/login/",
            data={
                "csrfmiddlewaretoken": token,
                "username": data["username"],
                "password": PASSWORD,
                "next": "/admin/",
            },
        )
        if r is not None and r.status_code == 302:
            result["staff_signed_in"] = True
            break
        time.sleep(2)
    result["export"] = "not started"
    for _ in range(5):
        token = token_of(lr.req("GET", "/reporting/staff/exports/"))
        r = lr.req(
            "POST",
            "/reporting/staff/exports/",
            data={"csrfmiddlewaretoken": token, "year": str(year)},
            headers={"Referer": lr.base + "/reporting/staff/exports/"},
        )
        if r is not None and r.status_code == 302:
            result["export"] = "started"
            break
        time.sleep(2)
    while result["export"] == "started" and time.time() < stop_at:
        table = lr.req("GET", "/reporting/staff/exports/table/")
        m = re.search(
            r'href="(/reporting/staff/exports/(\d+)/download/)"', table.text if table is not None else ""
        )
        if m:
            dl = lr.req("GET", m.group(1))
            result["export"] = (
                (
                    f"downloaded {len(dl.content)} bytes, HTTP {dl.status_code}, "
                    f"{dl.headers.get('Content-Type', '')}"
                )
                if dl is not None
                else "download failed"
            )
            return
        time.sleep(3)
    result["export"] += ", not done in time"


# --- seed and check (run in a Django process) --------------------------------------------------------
def seed_main(out_path):
    import django

    django.setup()
    from datetime import timedelta

    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.utils import timezone

    from cpe.accounts.models import User
    from cpe.accounts.policy import id_check_char
    from cpe.accounts.sessions import SessionStore  # settings.SESSION_ENGINE (decision 0018)
    from cpe.agreements import selectors as agreement_selectors
    from cpe.agreements.models import AgreementVersion
    from cpe.agreements.services import agreement_accept, agreement_publish
    from cpe.catalog.models import Chapter, Course, Product, TrainingYear
    from cpe.core.crypto import blind_index
    from cpe.core.timewin import local_date
    from cpe.exams import policy as exam_policy
    from cpe.exams.models import Attempt, AttemptItem, Question
    from cpe.exams.tests.factories import make_bank
    from cpe.learning import hotpath
    from cpe.learning.models import ChapterProgress, Enrolment, PlaySession
    from cpe.learning.services import web_session_hash
    from cpe.moderation.services import ban_network
    from cpe.orders.models import Order

    now = timezone.now()
    agreement_publish(
        version="1.0",
        title="协议",
        body="正文",
        is_minor=False,
        effective_at=now - timedelta(days=1),
        at=now - timedelta(days=1),
    )
    version = AgreementVersion.objects.get(version="1.0")
    required = agreement_selectors.required_major_id(now)
    year = TrainingYear.objects.create(year=local_date(now).year)
    course = Course.objects.create(
        year=year, code="D1", title="演练课程", category="professional", credit_hours=24
    )
    chapter = Chapter.objects.create(course=course, position=1, title="演练章节", duration_seconds=36000)
    make_bank(course, per_type=15)
    product = Product.objects.create(code="D-ANNUAL", title="演练年度课程", year=year, price_fen=100)
    pw = User(username="x")
    pw.set_password(PASSWORD)

    def ident(i):
        first = f"15010219{80 + i // 300:02d}{1 + (i // 28) % 12:02d}{1 + i % 28:02d}{i % 1000:03d}"
        return first + id_check_char(first)

    total = PAYERS + PLAYERS + EXAMINEES
    users = User.objects.bulk_create(
        [
            User(
                username=f"d{i}",
                name=f"演练学员{i}",
                password=pw.password,
                id_number=ident(i),
                mobile=f"137{i:08d}",
                ais_status="found",
            )
            for i in range(total)
        ]
    )
    for u in users:
        agreement_accept(user=u, version=version, at=now - timedelta(hours=1))
    persons = [{"id_number": u.id_number, "name": u.name, "region_code": "150100"} for u in users]
    payers, players, examinees = users[:PAYERS], users[PAYERS : PAYERS + PLAYERS], users[PAYERS + PLAYERS :]

    def paid(us):
        orders = Order.objects.bulk_create(
            [
                Order(
                    number=f"D{u.pk:010d}",
                    user=u,
                    product=product,
                    subject="演练",
                    amount_fen=100,
                    validity_days=90,
                    status="paid",
                    created_at=now,
                    paid_at=now - timedelta(minutes=5),
                )
                for u in us
            ]
        )
        return Enrolment.objects.bulk_create(
            [
                Enrolment(
                    user=o.user,
                    product=product,
                    order=o,
                    year=year,
                    valid_from=o.paid_at,
                    valid_until=o.paid_at + timedelta(days=90),
                )
                for o in orders
            ]
        )

    def web_session(u):
        store = SessionStore()
        store[SESSION_KEY], store[BACKEND_SESSION_KEY] = str(u.pk), "cpe.accounts.auth.IdentifierBackend"
        store[HASH_SESSION_KEY] = u.get_session_auth_hash()
        store["agreement_ok"] = required
        store.create()
        u.session_key_hash = blind_index("session_key", store.session_key)
        u.save(update_fields=["session_key_hash"])
        return store.session_key

    out = {"payers": [], "players": [], "examinees": [], "persons": persons}
    for u in payers:
        out["payers"].append({"username": u.username, "mobile": u.mobile, "product": product.code})
    # players: an open play session each (and, for some, an older one that is no longer the stream)
    enrolments = paid(players)
    ChapterProgress.objects.bulk_create([ChapterProgress(user=u, chapter=chapter) for u in players])
    progress = {p.user_id: p for p in ChapterProgress.objects.filter(chapter=chapter)}
    started = now - timedelta(seconds=BEAT)
    r, p = hotpath.client(), hotpath.prefix()
    for i, e in enumerate(enrolments):
        sid = web_session(e.user)
        keys = []
        for _ in range(2 if i < OLD_STREAMS else 1):
            s = PlaySession.objects.create(
                key=os.urandom(16).hex(),
                user=e.user,
                enrolment=e,
                chapter=chapter,
                ip="127.0.0.1",
                started_at=started,
                last_at=started,
                play_until_check=10**9,
                web_session=web_session_hash(sid),
            )
            d = hotpath.state_from_rows(s, progress[e.user_id], 36000.0)
            r.hset(f"{p}s:{s.key}", mapping={"v": "1", "u": str(s.user_id), "j": json.dumps(d)})
            r.pexpire(f"{p}s:{s.key}", hotpath.STATE_TTL_MS)
            r.set(f"{p}c:{s.user_id}", s.key, px=hotpath.STATE_TTL_MS)  # the last one opened is current
            keys.append(s.key)
        if len(keys) == 2:  # as play_start does: the older stream is superseded when the newer starts
            PlaySession.objects.filter(key=keys[0]).update(superseded_at=started)
        entry = {
            "username": e.user.username,
            "sid": sid,
            "csrf": os.urandom(16).hex(),
            "key": keys[-1],
            "token": hotpath.play_token(keys[-1]),
        }
        if len(keys) == 2:
            entry.update(old_key=keys[0], old_token=hotpath.play_token(keys[0]))
        out["players"].append(entry)
    # examinees: every chapter complete, an open attempt, answers that pass
    enrolments = paid(examinees)
    ChapterProgress.objects.bulk_create(
        [
            ChapterProgress(
                user=u,
                chapter=chapter,
                intervals=[[0, 36000]],
                watched_seconds=36000,
                furthest_position=36000,
                completed_at=now,
            )
            for u in examinees
        ]
    )
    questions = list(Question.objects.filter(course=course))
    bank, by_id = {}, {q.pk: q for q in questions}
    for q in questions:
        bank.setdefault(q.qtype, []).append(q.pk)
    counts = {q.pk: len(q.options) for q in questions}
    rng = random.Random(7)
    for e in enrolments:
        a = Attempt.objects.create(
            user=e.user,
            course=course,
            enrolment=e,
            number=1,
            started_at=now - timedelta(minutes=20),
            deadline=now + timedelta(hours=2),
            pass_mark=exam_policy.PASS_MARK,
        )
        answers, items = {}, []
        for pos, dq in enumerate(exam_policy.draw_paper(bank, counts, exam_policy.PAPER_COMPOSITION, rng), 1):
            answers[pos] = list(by_id[dq.question_id].answer)
            items.append(
                AttemptItem(
                    attempt=a,
                    position=pos,
                    question_id=dq.question_id,
                    qtype=dq.qtype,
                    points=dq.points,
                    option_order=list(dq.option_order),
                )
            )
        AttemptItem.objects.bulk_create(items)
        out["examinees"].append(
            {
                "username": e.user.username,
                "sid": web_session(e.user),
                "csrf": os.urandom(16).hex(),
                "attempt": a.pk,
                "answers": answers,
            }
        )
    staff = User.objects.create_superuser(username="drill-staff", password=PASSWORD)
    out["staff"] = {"username": staff.username}
    out["year"] = year.year
    ban_network(network=f"{BANNED}/32", reason="演练：封禁的地址", actor=staff, at=now)
    Path(out_path).write_text(json.dumps(out))


def person_checks_main():
    """The examinees' AIS person check, as registration triggers it, once the simulator knows them."""
    import django

    django.setup()
    from cpe.accounts.models import User
    from cpe.reporting.services import ais_person_check

    found = 0
    for u in User.objects.filter(username__regex=r"^d[0-9]+$"):
        person = ais_person_check(user_id=u.pk)
        found += bool(person.person_id)
    print(f"person checks: {found} found")


def lease_expired_main():
    """The beat's sweep as it will run once the send lease of the reports cut by the kill has
    run out (SEND_LEASE after the claim): they are sent again with the same idempotency key."""
    import django

    django.setup()
    from django.utils import timezone

    from cpe.reporting import policy
    from cpe.reporting.services import report_sweep

    print(
        f"sweep after the lease: {report_sweep(at=timezone.now() + policy.SEND_LEASE + timedelta_s(60))} "
        f"send(s) queued"
    )


def timedelta_s(seconds):
    from datetime import timedelta

    return timedelta(seconds=seconds)


def check_main(earned_path, payers_path, ais_credits_path):
    import django

    django.setup()
    from django.db.models import Count

    from cpe.accounts.models import LoginRecord
    from cpe.credits.models import CreditRecord
    from cpe.learning.models import ChapterProgress, PlaySession
    from cpe.orders.models import Order
    from cpe.sandbox.models import SandboxTrade

    out = {}
    earned = json.loads(Path(earned_path).read_text())
    payers = json.loads(Path(payers_path).read_text())
    # payments: every trade the sandbox settled as paid is a paid order with exactly one enrolment
    paid_trades = set(SandboxTrade.objects.filter(status="paid").values_list("out_trade_no", flat=True))
    orders = {
        o.number: o for o in Order.objects.filter(number__in=paid_trades).annotate(n=Count("enrolment"))
    }
    out["paid_trades"] = len(paid_trades)
    out["lost_payments"] = sum(
        1 for n in paid_trades if n not in orders or orders[n].status != "paid" or orders[n].n != 1
    )
    out["double_activations"] = sum(1 for o in orders.values() if o.n > 1)
    out["payers_pressed_pay"] = sum(1 for v in payers.values() if v.get("paid"))
    # credits: each credit record reported once, no more
    from cpe.reporting.models import AisPerson

    person = dict(AisPerson.objects.values_list("user_id", "person_id"))
    records = [
        (person.get(u), code)
        for u, code in CreditRecord.objects.filter(user__username__regex=r"^d[0-9]+$").values_list(
            "user_id", "course_code"
        )
    ]
    ais = json.loads(Path(ais_credits_path).read_text())
    by_person = {}
    for c in ais:
        k = (c.get("person_id"), c.get("course_code"))
        by_person[k] = by_person.get(k, 0) + 1
    out["credit_records"] = len(records)
    out["ais_credits"] = len(ais)
    out["double_reports"] = sum(n - 1 for n in by_person.values() if n > 1)
    out["unreported"] = sum(1 for r in records if by_person.get(r, 0) == 0)
    from cpe.reporting.models import AisReport

    out["outbox_states"] = dict(AisReport.objects.values_list("state").annotate(n=Count("id")))
    # seconds: what the server acknowledged vs what PostgreSQL holds
    users = {s.key: s.user_id for s in PlaySession.objects.filter(key__in=list(earned))}
    stored = dict(
        ChapterProgress.objects.filter(user_id__in=set(users.values())).values_list(
            "user_id", "watched_seconds"
        )
    )
    acked = {}
    for key, e in earned.items():
        acked[users[key]] = acked.get(users[key], 0.0) + e["acked"]
    lost = {u: max(0.0, a - stored.get(u, 0.0)) for u, a in acked.items()}
    over = {u: stored.get(u, 0.0) - a for u, a in acked.items() if stored.get(u, 0.0) - a > 0.01}
    out["lost_seconds"] = round(sum(lost.values()), 1)
    out["max_lost_seconds_per_learner"] = round(max(lost.values(), default=0.0), 1)
    out["credited_more_than_acknowledged"] = len(over)
    out["acknowledged_seconds"] = round(sum(acked.values()), 1)
    out["old_stream_credited"] = round(sum(e["acked"] for e in earned.values() if e["old"]), 3)
    out["old_stream_refusals"] = {k: v for e in earned.values() if e["old"] for k, v in e["refused"].items()}
    # addresses the platform recorded: the browsers', never nginx's
    ips = set(LoginRecord.objects.values_list("ip", flat=True))
    out["login_record_ips"] = sorted(i for i in ips if i)
    from axes.models import AccessAttempt, AccessFailureLog

    out["axes_ips"] = sorted(
        set(AccessAttempt.objects.values_list("ip_address", flat=True))
        | set(AccessFailureLog.objects.values_list("ip_address", flat=True))
    )
    out["axes_attempts"] = [
        f"{a.username}@{a.ip_address}: {a.failures_since_start} failures" for a in AccessAttempt.objects.all()
    ]
    print(json.dumps(out))


# --- the drill ----------------------------------------------------------------------------------
def main():
    import requests

    if os.geteuid() != 0:
        sys.exit("deploy/drill runs as root (network namespaces, nginx)")
    for tool in ("nginx", "redis-server", "moto_server", "ip"):
        if not subprocess.run(["which", tool], capture_output=True).returncode == 0:
            if tool == "nginx":
                say("installing Debian's nginx package")
                sh("DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null")
            else:
                sys.exit(f"{tool} is needed")
    sh(["rm", "-rf", str(WORK)])
    for d in ("logs", "var/courseware/hls", "private/exports", "var/staticfiles"):
        (WORK / d).mkdir(parents=True, exist_ok=True)
    keys = keys_env()
    (WORK / "secrets").mkdir(mode=0o700)
    (WORK / "secrets" / "keys.env").write_text("".join(f"{k}={v}\n" for k, v in keys.items()))
    stats = Stats()
    try:
        net_up()
        start_redis()
        say(f"redis on {REDIS_PORT} (AOF, dir {WORK / 'redis'})")
        sh(f"dropdb --if-exists -h 127.0.0.1 -U postgres {DB} && createdb -h 127.0.0.1 -U postgres {DB}")
        manage(keys, "migrate", "--noinput", "-v0")
        manage(keys, "collectstatic", "--noinput", "-v0")
        say(f"database {DB} migrated")
        seed_file = WORK / "seed.json"
        sh([PY, __file__, "seed", str(seed_file)], env=platform_env(keys), cwd=ROOT)
        seed = json.loads(seed_file.read_text())
        (WORK / "persons.json").write_text(json.dumps({"persons": seed["persons"]}))
        start(
            "ais",
            [
                PY,
                "-m",
                "ais_sim",
                "--host",
                "0.0.0.0",
                "--allow-remote",
                "--port",
                str(AIS_PORT),
                "--db",
                str(WORK / "ais.sqlite3"),
                "--seed",
                str(WORK / "persons.json"),
            ],
            os.environ.copy(),
        )
        start("s3", ["moto_server", "-H", "0.0.0.0", "-p", str(S3_PORT)], os.environ.copy())
        wait_http(f"http://127.0.0.1:{AIS_PORT}/_sim/health")
        wait_http(f"http://127.0.0.1:{S3_PORT}/")
        sh([PY, __file__, "person-checks"], env=platform_env(keys), cwd=ROOT)
        say(
            f"seeded {PAYERS} payers, {PLAYERS} players ({OLD_STREAMS} with an old stream), "
            f"{EXAMINEES} examinees; "
            f"AIS simulator on {AIS_PORT}, moto S3 on {S3_PORT}"
        )
        for n in NODES:
            start_node(n, keys)
        for n, (_, addr) in NODES.items():
            wait_http(f"http://{addr}:{NODE_PORT}/-/live")
            ready = requests.get(f"http://{addr}:{NODE_PORT}/-/ready", timeout=10)
            say(f"node {n} {addr}: /-/ready {ready.status_code} {ready.text}")
        for w in ("cpe-worker", "cpe-ais", "cpe-beat"):
            start_worker(w, keys)
        supervisor_stop = threading.Event()
        threading.Thread(target=supervise, args=(supervisor_stop,), daemon=True).start()
        nginx_conf()
        start("nginx", ["nginx", "-c", str(WORK / "nginx.conf"), "-g", "daemon off;"], os.environ.copy())
        wait_http(f"http://127.0.0.1:{NGINX_PORT}/")
        outside = requests.get(f"http://127.0.0.1:{NGINX_PORT}/-/metrics", timeout=5).status_code
        say(f"nginx on 127.0.0.1:{NGINX_PORT} in front of both nodes; /-/metrics through nginx: {outside}")

        # --- load and failures -------------------------------------------------------------
        stop = threading.Event()
        earned, payers_out, exam_out, extra = {}, {}, {}, {}
        threads = []
        for i, d in enumerate(seed["players"]):
            threads.append(
                threading.Thread(target=player, args=(stats, d, CLIENTS[i % len(CLIENTS)], earned, stop))
            )
            if "old_key" in d:
                threads.append(
                    threading.Thread(
                        target=player, args=(stats, d, CLIENTS[(i + 3) % len(CLIENTS)], earned, stop, True)
                    )
                )
        for i, d in enumerate(seed["payers"]):
            threads.append(
                threading.Thread(target=payer, args=(stats, d, CLIENTS[i % len(CLIENTS)], payers_out, stop))
            )
        for i, d in enumerate(seed["examinees"]):
            threads.append(
                threading.Thread(
                    target=examinee, args=(stats, d, CLIENTS[i % len(CLIENTS)], exam_out, 55 + 4 * i)
                )
            )
        load_start = time.time()
        for t in threads:
            t.start()
            time.sleep(0.05)
        say(
            f"load started: {len(threads)} simulated browsers "
            f"from {len(CLIENTS)} addresses for {RUN_SECONDS}s"
        )
        windows = []

        def at(sec):
            delay = load_start + sec - time.time()
            if delay > 0:
                time.sleep(delay)

        at(30)
        down = time.time()
        held.add("n1")
        kill("n1")
        say("node n1 killed (SIGKILL)")
        at(45)
        start_node("n1", keys)
        held.discard("n1")
        wait_http(f"http://{NODES['n1'][1]}:{NODE_PORT}/-/live")
        windows.append(("node n1 down", down, time.time() + 2))
        say(f"node n1 restarted after {time.time() - down:.1f}s")
        at(50)
        # The AIS records the next credits, then answers only 8 s later: the AIS-report worker is
        # in the middle of a send when it is killed (the report is at the AIS, not yet marked sent).
        requests.post(
            f"http://127.0.0.1:{AIS_PORT}/_sim/faults",
            timeout=5,
            json={
                "mode": "slow",
                "count": 3,
                "path": "/api/v1/credits",
                "method": "POST",
                "delay": 8,
                "after_processing": True,
            },
        )
        at(64)  # the examinees are submitting (from +55): reports are being sent
        sending = sh(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                DB,
                "-Atc",
                "select count(*) from reporting_aisreport where state = 'sending'",
            ],
            capture_output=True,
            text=True,
        ).stdout.strip()
        held.update({"cpe-ais", "cpe-worker"})
        kill("cpe-ais")
        say(f"AIS-report worker killed (SIGKILL) with {sending} report(s) in the middle of a send")
        qlen = sh(f"redis-cli -p {REDIS_PORT} llen celery", capture_output=True, text=True).stdout.strip()
        kill("cpe-worker")
        say(
            f"worker killed (SIGKILL) ({qlen} task(s) waiting in its queue; "
            f"it runs the write-behind every {BEAT}s)"
        )
        at(74)
        start_worker("cpe-worker", keys)
        start_worker("cpe-ais", keys)
        held.difference_update({"cpe-ais", "cpe-worker"})
        say("workers restarted")
        at(80)
        probes = threading.Thread(
            target=lambda: extra.update(
                lockout=lockout_probe(
                    stats,
                    {"username": seed["payers"][0]["username"], "mobile": seed["payers"][0]["mobile"]},
                    {
                        "username": seed["payers"][1]["username"] + "@probe",
                        "mobile": seed["payers"][1]["mobile"],
                    },
                ),
                banned=banned_probe(stats),
                throttle=throttle_probe(stats),
            ),
            daemon=True,
        )
        probes.start()
        threading.Thread(
            target=staff_export,
            args=(stats, seed["staff"], extra, seed["year"], load_start + RUN_SECONDS + 60),
            daemon=True,
        ).start()
        at(110)
        down = time.time()
        kill("redis")
        say("redis killed (SIGKILL)")
        time.sleep(2)
        start_redis()
        windows.append(("redis down", down, time.time() + 2))
        say(f"redis restarted from its AOF after {time.time() - down:.1f}s")
        at(RUN_SECONDS)
        stop.set()
        for t in threads:
            t.join(60)
        say(f"load stopped: {stats.requests} requests")
        restarts_during_load = list(restarts)

        # --- settle, then check ------------------------------------------------------------
        # Until every report is sent, except those whose send was cut by the kill: they stay
        # claimed ("sending") for the send lease, then the sweep sends them again.
        deadline = time.time() + 90
        while time.time() < deadline:
            left = sh(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    DB,
                    "-Atc",
                    "select count(*) from reporting_aisreport where state in ('pending', 'retrying')",
                ],
                capture_output=True,
                text=True,
            ).stdout.strip()
            if left == "0" and len(exam_out) == len(seed["examinees"]):
                break
            time.sleep(3)
        m = requests.get(f"http://{NODES['n2'][1]}:{NODE_PORT}/-/metrics", timeout=10).text
        depth = float(re.search(r"^cpe_ais_outbox_depth (\S+)$", m, re.M).group(1))
        time.sleep(3 * BEAT)  # the last write-behind
        say(f"outbox depth {depth:.0f} (from /-/metrics on n2)")
        m = requests.get(f"http://{NODES['n2'][1]}:{NODE_PORT}/-/metrics", timeout=10).text
        for name in (
            "cpe_heartbeats_total",
            "cpe_payment_notifications_total",
            "cpe_ais_outbox_oldest_age",
            "cpe_celery_queue_length",
        ):
            for line in m.splitlines():
                if line.startswith(name):
                    print("   n2 " + line)
        ais_before = len(
            requests.get(f"http://127.0.0.1:{AIS_PORT}/_sim/credits", timeout=10).json()["items"]
        )
        states = sh(
            [
                "psql",
                "-h",
                "127.0.0.1",
                "-U",
                "postgres",
                DB,
                "-Atc",
                "select state, count(*) from reporting_aisreport group by 1 order by 1",
            ],
            capture_output=True,
            text=True,
        ).stdout.split()
        say(f"outbox before the lease runs out: {states}; credits at the AIS: {ais_before}")
        sh([PY, __file__, "lease-expired"], env=platform_env(keys), cwd=ROOT)
        deadline = time.time() + 60
        while time.time() < deadline:
            left = sh(
                [
                    "psql",
                    "-h",
                    "127.0.0.1",
                    "-U",
                    "postgres",
                    DB,
                    "-Atc",
                    "select count(*) from reporting_aisreport where state <> 'sent'",
                ],
                capture_output=True,
                text=True,
            ).stdout.strip()
            if left == "0":
                break
            time.sleep(2)
        ais_credits = requests.get(f"http://127.0.0.1:{AIS_PORT}/_sim/credits", timeout=10).json()["items"]
        (WORK / "ais-credits.json").write_text(json.dumps(ais_credits))
        (WORK / "earned.json").write_text(json.dumps(earned))
        (WORK / "payers.json").write_text(json.dumps(payers_out))
        res = json.loads(
            sh(
                [
                    PY,
                    __file__,
                    "check",
                    str(WORK / "earned.json"),
                    str(WORK / "payers.json"),
                    str(WORK / "ais-credits.json"),
                ],
                env=platform_env(keys),
                cwd=ROOT,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        upstreams = {}
        for line in (WORK / "logs" / "nginx-cpe.access.log").read_text().splitlines():
            e = json.loads(line)
            upstreams[e["request_id"]] = e["upstream"]
        per_learner_nodes = {}
        for name, rids in stats.request_ids.items():
            nodes = {upstreams.get(r, "").split(",")[-1].strip() for r in rids if upstreams.get(r)}
            per_learner_nodes[name] = len({n for n in nodes if n})
        fivexx_in = sum(1 for t, _, _ in stats.fivexx if any(a <= t <= b for _, a, b in windows))
        conn_in = sum(1 for t, _ in stats.conn_errors if any(a <= t <= b for _, a, b in windows))
        for name, a, b in windows:
            say(f"window {name}: {b - a:.1f}s")
        say(
            f"5xx: {len(stats.fivexx)} ({fivexx_in} inside the windows); connection errors: "
            f"{len(stats.conn_errors)} ({conn_in} inside)"
        )
        for t, code, path in stats.fivexx:
            inside = next((n for n, a, b in windows if a <= t <= b), "outside the windows")
            print(f"   5xx {code} at +{t - load_start:.1f}s ({inside}) {path}")
        for name, a, b in windows:
            print(f"   window {name}: +{a - load_start:.1f}s to +{b - load_start:.1f}s")
        say(
            f"payments: {res['payers_pressed_pay']} payers pressed 支付成功, "
            f"{res['paid_trades']} trades paid at "
            f"the sandbox, lost {res['lost_payments']}, activated twice {res['double_activations']}"
        )
        say(
            f"exams: {sum(1 for v in exam_out.values() if v == 'submitted')}/{len(exam_out)} submitted; "
            f"{res['credit_records']} credit records, {res['ais_credits']} credits at the AIS, "
            f"unreported {res['unreported']}, reported twice {res['double_reports']}; platform outbox "
            f"{res['outbox_states']}"
        )
        say(
            f"seconds: acknowledged {res['acknowledged_seconds']}, lost {res['lost_seconds']} "
            f"(max {res['max_lost_seconds_per_learner']} per learner; write-behind window {BEAT}s), "
            f"credited more than acknowledged: {res['credited_more_than_acknowledged']} learners"
        )
        again = [sum(e["again"][i] for e in earned.values() if not e["old"]) for i in range(3)]
        say(
            f"claims again after a 502/503/504 or no answer: {again[0]} report(s), claimed {again[1]:.1f}s, "
            f"credited {again[2]:.1f}s"
        )
        say(
            f"single stream: old streams credited {res['old_stream_credited']}s, refusals "
            f"{res['old_stream_refusals']}"
        )
        served_both = sum(1 for v in per_learner_nodes.values() if v >= 2)
        say(
            f"sessions across nodes: {served_both}/{len(per_learner_nodes)} browsers served by both nodes; "
            f"sent back to sign-in: {len(stats.signed_out)}"
        )
        by_user = {}
        for t, name, _path, where in stats.signed_out:
            by_user.setdefault(name, []).append((t, where))
        # Signed out by the Redis restart: a learner whose first page sent to sign-in came while
        # Redis was down or in the 30 s after (a learner signed out before, e.g. by the single-
        # session rule when the lockout probe signs in as them, is not counted).
        redis_windows = [(a, b) for n, a, b in windows if n.startswith("redis")]
        signed_out_by_redis = {
            name
            for name, events in by_user.items()
            if any(a <= min(events)[0] <= b + 30 for a, b in redis_windows)
        }
        for name, events in by_user.items():
            first = min(events)
            print(
                f"   {name}: {len(events)} page(s) sent to sign-in, "
                f"the first at +{first[0] - load_start:.1f}s "
                f"-> {first[1]}"
            )
        say(
            f"addresses: login records {res['login_record_ips']}, sign-in lockout records {res['axes_ips']}; "
            f"lockout {extra.get('lockout')}; public-query throttle {extra.get('throttle')}; "
            f"banned address answers {extra.get('banned')}; "
            f"staff signed in: {extra.get('staff_signed_in')}, export: {extra.get('export')}"
        )
        nginx_seen = [ip for ip in res["login_record_ips"] + res["axes_ips"] if ip.startswith("10.77.")]
        say(f"nginx's addresses among them: {nginx_seen or 'none'}")
        say(
            f"processes restarted after exiting on their own: "
            f"{[(n, c, round(t - load_start, 1)) for t, n, c in restarts_during_load] or 'none'}"
        )
        print(
            f"RESULT nodes={len(NODES)} requests={stats.requests} errors_5xx={len(stats.fivexx)} "
            f"lost_payments={res['lost_payments']} double_reports={res['double_reports']} "
            f"lost_seconds={res['lost_seconds']} "
            f"max_lost_seconds_per_learner={res['max_lost_seconds_per_learner']} "
            f"signed_out={len(by_user)} signed_out_by_redis={len(signed_out_by_redis)}",
            flush=True,
        )
    finally:
        supervised.clear()
        for name in list(procs)[::-1]:
            kill(name, signal.SIGTERM)
        net_down()


if __name__ == "__main__":
    mode = sys.argv[1] if len(sys.argv) > 1 else "run"
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    if mode == "seed":
        seed_main(sys.argv[2])
    elif mode == "person-checks":
        person_checks_main()
    elif mode == "lease-expired":
        lease_expired_main()
    elif mode == "check":
        check_main(*sys.argv[2:5])
    else:
        main()
