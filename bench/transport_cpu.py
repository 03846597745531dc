"""CPU per request of the HTTP transports, on the benchmark's sandboxes.

    python -m bench.transport_cpu [--requests 300] [--rounds 3]

The Bill.com sandbox runs in a process of its own (``bench.sandbox_server``,
no latency); this process sends, one after the other over one keep-alive
connection, the calls a first sync sends most: a create of one customer (no
bulk endpoint: one request a record) and a list page of 100 customers. Each
goes three ways for each transport: through ``BillComClient`` (the engine's
own cost per call included: pacing, counters, JSON with Decimals), through
the session alone (``session.request`` as the client calls it), and, for
reference, ``urllib3.PoolManager.request`` with nothing around it. The figure
is this process's CPU time per request (the sandbox's is not in it), the
median of the rounds, the transports taking turns within each round.
"""
import argparse
import statistics
import sys
import time
import uuid

import urllib3

from sync_engine.billcom.client import BillComClient
from sync_engine.config import ConnectionConfig
from sync_engine.records import json_dumps
from sync_engine.transport import UrllibSession, requests_session

from .run import SandboxProcess

TRANSPORTS = {"requests": requests_session, "urllib3 (ours)": lambda base_url: UrllibSession()}


def _customer(i):
    name = f"Transport check {uuid.uuid4().hex[:10]} {i}"
    return {"name": name, "email": f"ar{i}@transport.example", "phone": "(415) 555-0100",
            "billingAddress": {"line1": "1 Market St", "city": "San Francisco", "stateOrProvince": "CA",
                               "zipOrPostalCode": "94105", "country": "US"}}


def _cpu_per_call(fn, n):
    fn(0)   # connect and warm up outside the measure
    c0 = time.process_time()
    for i in range(1, n + 1):
        fn(i)
    return (time.process_time() - c0) / n * 1e6


def measure(account, n):
    figures = {}
    clients = {}
    for name, make in TRANSPORTS.items():
        client = BillComClient.from_account(account, session=make(account.base_url))
        client.login()
        clients[name] = client

    def through_client(client):
        return {"create one customer": lambda i: client.create("customers", _customer(i)),
                "list page of 100 customers": lambda i: next(iter(client.list("customers", page_size=100)))}

    def through_session(session, headers, base):
        def create(i):
            answer = session.request("POST", base + "/v3/customers", data=json_dumps(_customer(i)),
                                     headers=headers, timeout=30)
            assert answer.status_code < 300, answer.status_code
            answer.json()

        def page(i):
            answer = session.request("GET", base + "/v3/customers", params={"max": 100}, headers=headers,
                                     timeout=30)
            assert answer.status_code < 300, answer.status_code
            answer.json()
        return {"create one customer": create, "list page of 100 customers": page}

    base = clients["requests"].base_url
    for name, client in clients.items():
        headers = {"Accept": "application/json", "Content-Type": "application/json", "devKey": client._dev_key,
                   "sessionId": client._session_id}
        for call, fn in through_client(client).items():
            figures[(call, name, "through BillComClient")] = _cpu_per_call(fn, n)
        for call, fn in through_session(client.http, headers, base).items():
            figures[(call, name, "session.request alone")] = _cpu_per_call(fn, n)
        if name == "urllib3 (ours)":
            pool = urllib3.PoolManager(retries=False)

            class Bare:
                def request(self, method, url, params=None, data=None, headers=None, timeout=None):
                    if params:
                        url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
                    answer = pool.request(method, url, body=data, headers=headers, timeout=timeout)
                    answer.status_code = answer.status
                    answer.json = answer.json
                    return answer
            for call, fn in through_session(Bare(), headers, base).items():
                figures[(call, "urllib3.PoolManager, bare", "reference")] = _cpu_per_call(fn, n)
    for client in clients.values():
        client.http.close()
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per figure and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rounds = []
    with SandboxProcess("half-small", 0.0, hourly_quota=False, timeout=300) as sb:
        account = ConnectionConfig.from_dict(sb.config).billcom
        for r in range(args.rounds):
            print(f"[transport] round {r + 1} of {args.rounds}", file=sys.stderr, flush=True)
            rounds.append(measure(account, args.requests))
            TRANSPORTS.update(reversed(list(TRANSPORTS.items())))   # the other goes first next round
    keys = list(rounds[0])
    print(f"CPU per request in the sending process (us), median of {args.rounds} rounds of {args.requests} "
          f"requests, keep-alive, Python {sys.version.split()[0]}:")
    print(f"{'call':<30}{'transport':<28}{'measured':<24}{'CPU/request':>12}")
    for key in sorted(keys):
        value = statistics.median(r[key] for r in rounds)
        print(f"{key[0]:<30}{key[1]:<28}{key[2]:<24}{value:>10.0f} us")
    for call in sorted({k[0] for k in keys}):
        for how in ("through BillComClient", "session.request alone"):
            old = statistics.median(r[(call, "requests", how)] for r in rounds)
            new = statistics.median(r[(call, "urllib3 (ours)", how)] for r in rounds)
            print(f"{call}, {how}: urllib3 saves {old - new:.0f} us a request ({new / old:.2f} x requests)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
