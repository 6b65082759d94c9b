#!/usr/bin/env python3
"""Checks the simulator against the vendor's own REST v2 document, with schemathesis.

Starts the built `junction sandbox` on a free port, takes a bearer token through the sandbox's
OAuth flow (consent form, then `POST /token`), lifts the simulator's rate limits, and runs
schemathesis with every check on the operations the simulator implements, from Keap's published
document (`crates/keap-sim/vendor/keap-v2-openapi.json`, Apache-2.0; the published YAML as JSON,
unchanged otherwise, so that the simulator embeds it and checks request bodies against it). A
failure means the simulator accepts what the vendor refuses, refuses what it accepts, or answers
outside its shapes.

Where the vendor's document is silent (a path id that is not a number, say) the simulator takes the
stricter reading; each such reading is written down, with its reason, in
`crates/keap-sim/vendor/readings.yml`, and applied to the document before the run: the simulator's
document is the vendor's narrowed by those readings. The few cases no schema can state are excused,
each with its reason, in `.ci/vendor_conformance_hooks.py`.

Run by .ci/run with the CI virtualenv's Python (schemathesis installed there):

    target/ci-venv/bin/python .ci/vendor_conformance.py [--binary PATH] [--examples N] [--seed N]

Standard library only, besides the `schemathesis` command beside this Python.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from schemathesis import CLIENT_ID, CLIENT_SECRET, CALLBACK, built_binary, log, request, stop  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / ".ci" / "vendor_conformance.toml"
DOCUMENT = REPO / "crates" / "keap-sim" / "vendor" / "keap-v2-openapi.json"
READINGS = REPO / "crates" / "keap-sim" / "vendor" / "readings.yml"
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")

# The vendor's paths the simulator implements (README "The simulator"), as the document spells them.
IMPLEMENTED = [
    "/rest/v2/contacts",
    "/rest/v2/contacts/{contact_id}",
    "/rest/v2/contacts/{contact_id}/notes",
    "/rest/v2/contacts/{contact_id}/notes/{note_id}",
    "/rest/v2/contacts/{contact_id}/tags",
    "/rest/v2/companies",
    "/rest/v2/companies/{company_id}",
    "/rest/v2/opportunities",
    "/rest/v2/opportunities/{opportunity_id}",
    "/rest/v2/opportunities/stages",
    "/rest/v2/opportunities/stages/{stage_id}",
    "/rest/v2/tags",
    "/rest/v2/tags/{tag_id}",
    "/rest/v2/tags/{tag_id}/contacts",
    "/rest/v2/tags/{tag_id}/contacts:applyTags",
    "/rest/v2/tags/{tag_id}/contacts:removeTags",
    "/rest/v2/tasks",
    "/rest/v2/tasks/{task_id}",
    "/rest/v2/users",
    "/rest/v2/users/{user_id}",
    "/rest/v2/products",
    "/rest/v2/products/{product_id}",
    "/rest/v2/products/{product_id}:adjustInventory",
    "/rest/v2/orders",
    "/rest/v2/orders/{order_id}",
    "/rest/v2/orders/{order_id}/items",
    "/rest/v2/orders/{order_id}/items/{order_item_id}",
    "/rest/v2/orders/{order_id}/payments",
    "/rest/v2/subscriptions",
    "/rest/v2/subscriptions/{subscription_id}",
    "/rest/v2/notes",
    "/rest/v2/campaigns",
    "/rest/v2/campaigns/{campaign_id}",
    "/rest/v2/sales/transactions",
]


def simulator_document(out, only):
    """Writes the vendor's document narrowed by the simulator's readings to `out`, with the
    implemented paths only (those matching `only`, a regex).

    A reading names its target either by `pointer` (a JSON pointer into the document, e.g.
    `/components/schemas/Task/properties/remind_time_mins`) or by `parameter` (a parameter's name,
    on every implemented operation whose path matches `path_regex`, default all), and merges `set`
    into it (into a parameter's `schema`). Each must say why (`reason`) and must match something.
    """
    document = json.loads(DOCUMENT.read_text())
    readings = yaml.safe_load(READINGS.read_text()) or []
    for reading in readings:
        if not reading.get("reason"):
            sys.exit(f"a reading without a reason in {READINGS}: {reading}")
        targets = []
        if "pointer" in reading:
            node = document
            for part in reading["pointer"].lstrip("/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            targets.append(node)
        else:
            pattern = re.compile(reading.get("path_regex", ".*"))
            for path in IMPLEMENTED:
                if not pattern.search(path):
                    continue
                item = document["paths"][path]
                operations = [item] + [item[method] for method in METHODS if method in item]
                for operation in operations:
                    for parameter in operation.get("parameters", []):
                        if parameter.get("name") == reading["parameter"]:
                            targets.append(parameter.setdefault("schema", {}))
        if not targets:
            sys.exit(f"a reading in {READINGS} matches nothing: {reading}")
        for target in targets:
            target.update(reading["set"])
    document["paths"] = {path: document["paths"][path] for path in IMPLEMENTED if re.search(only, path)}
    out.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


class Sandbox:
    """`junction sandbox` on a free port; its log goes to a file, shown if anything fails."""

    def __init__(self, binary, workdir):
        self.log_path = workdir / "sandbox.log"
        env = dict(os.environ, RUST_LOG="info")
        with open(self.log_path, "wb") as log_file:
            self.process = subprocess.Popen(
                [str(binary), "sandbox", "--bind", "127.0.0.1:0"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=log_file,
            )
        deadline = time.monotonic() + 60
        self.url = None
        while time.monotonic() < deadline and self.url is None:
            found = re.search(r"simulator listening.*?url=(\S+)", self.log_path.read_text(errors="replace"))
            if found:
                self.url = found.group(1).rstrip("/")
            elif self.process.poll() is not None:
                break
            else:
                time.sleep(0.1)
        if self.url is None:
            self.stop()
            sys.exit(f"junction sandbox did not start:\n{self.log_path.read_text(errors='replace')}")
        no_limits = {"per_second": None, "per_minute": None, "per_day": None}
        status, _, answer = request("POST", f"{self.url}/__sim/limits", body={**no_limits, "tenant": no_limits})
        if status != 200:
            self.stop()
            sys.exit(f"the simulator's limits could not be lifted: {status} {answer}")

    def access_token(self):
        """A bearer token as an app gets one: the consent form, then the code at `/token`."""
        consent = {
            "client_id": CLIENT_ID,
            "redirect_uri": CALLBACK,
            "response_type": "code",
            "scope": "full",
            "state": "conformance",
            "username": "demo@example.com",
            "password": "demo",
            "decision": "allow",
        }
        status, headers, _ = request("POST", f"{self.url}/app/oauth/authorize", form=consent)
        if status != 302:
            sys.exit(f"the simulator's consent form answered {status}, not a redirect")
        code = urllib.parse.parse_qs(urllib.parse.urlparse(headers["location"]).query)["code"][0]
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        status, _, token = request("POST", f"{self.url}/token", form=form)
        if status != 200:
            sys.exit(f"POST /token answered {status}: {token}")
        return token["access_token"]

    def stop(self):
        stop(self.process)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--binary", type=Path, help="the junction binary (default: cargo build's)")
    parser.add_argument("--examples", type=int, default=15, help="test cases per operation")
    parser.add_argument("--seed", type=int, default=1, help="schemathesis's random seed (runs are repeatable)")
    parser.add_argument("--paths", default="", help="check only the implemented paths matching this regex")
    parser.add_argument("extra", nargs="*", help="more schemathesis arguments (after --)")
    args = parser.parse_args()
    args.binary = built_binary(args.binary)

    workdir = Path(tempfile.mkdtemp(prefix="junction-vendor-conformance-"))
    sandbox = None
    passed = False
    try:
        log(f"starting {args.binary} sandbox")
        sandbox = Sandbox(args.binary, workdir)
        token = sandbox.access_token()
        document = workdir / "simulator-openapi.yml"
        simulator_document(document, args.paths)
        command = [
            str(Path(sys.executable).parent / "schemathesis"),
            "--config-file",
            str(CONFIG),
            "run",
            str(document),
            "--url",
            f"{sandbox.url}/crm",
            "--checks",
            "all",
            "--max-examples",
            str(args.examples),
            "--seed",
            str(args.seed),
            "--workers",
            "1",
        ]
        command += args.extra
        env = dict(os.environ, KEAP_AUTHORIZATION=f"Bearer {token}", HYPOTHESIS_STORAGE_DIRECTORY=str(workdir))
        started = time.monotonic()
        log("schemathesis: the simulator against keap-v2-openapi.json")
        print(" ".join(command), flush=True)
        passed = subprocess.run(command, env=env, cwd=REPO, stdin=subprocess.DEVNULL).returncode == 0
        log(f"the vendor conformance run took {time.monotonic() - started:.0f} s: {'passed' if passed else 'FAILED'}")
    finally:
        if sandbox is not None:
            sandbox.stop()
            if not passed:
                print(f"\n== the simulator's log (last 50 lines of {sandbox.log_path})")
                print("\n".join(sandbox.log_path.read_text(errors="replace").splitlines()[-50:]))
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
