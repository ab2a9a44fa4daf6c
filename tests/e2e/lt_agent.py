"""A libtorrent client run inside a network namespace, driven by JSON lines on stdin and stdout.

A process cannot move its libtorrent session into another namespace, so the
tests start this script under `ip netns exec` (tests/e2e/netns.py) and send
it one JSON object a line; it answers each with one JSON object a line:

    {"op": "version"}                                    -> {"version": "2.1.1.0", "user_agent": ...}
    {"op": "add", "torrent": <base64 .torrent>, "save_path": ...} -> {"id": <v1 hex>}
    {"op": "status", "id": ...}                          -> the torrent's state, counters and tracker errors
    {"op": "reannounce", "id": ...}                      -> {}
    {"op": "scrape", "id": ...}                          -> {"complete": n, "incomplete": n}, as the tracker scraped
    {"op": "remove", "id": ...}                          -> {} (the torrent sends its `stopped`)
    {"op": "quit"}                                       -> {} and the process exits

A failure is {"error": "..."}. Arguments: the session's listen_interfaces
(e.g. "10.77.0.2:6881" or "[fd77:0::2]:6881").
"""

import base64
import json
import sys
import time
import traceback

import libtorrent as lt


def main() -> None:
    ses = lt.session(
        {
            "listen_interfaces": sys.argv[1],
            "enable_dht": False,
            "enable_lsd": False,
            "enable_upnp": False,
            "enable_natpmp": False,
            "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.tracker_notification,
            "stop_tracker_timeout": 30,
        }
    )
    handles: dict[str, object] = {}
    errors: dict[str, list[str]] = {}  # tracker errors per torrent, in order
    replies: dict[str, int] = {}  # tracker replies per torrent

    def drain() -> None:
        for alert in ses.pop_alerts():
            if isinstance(alert, lt.tracker_alert):
                key = next((k for k, h in handles.items() if h == alert.handle), None)
                if key is None:
                    continue
                if isinstance(alert, lt.tracker_error_alert):
                    errors[key].append(f"{alert.failure_reason() or alert.error.message()} ({alert.tracker_url()})")
                elif isinstance(alert, lt.tracker_reply_alert):
                    replies[key] += 1

    def handle(request: dict) -> dict:
        drain()
        op = request["op"]
        if op == "version":
            return {"version": lt.__version__, "user_agent": ses.get_settings()["user_agent"]}
        if op == "add":
            params = lt.add_torrent_params()
            params.ti = lt.torrent_info(lt.bdecode(base64.b64decode(request["torrent"])))
            params.save_path = request["save_path"]
            h = ses.add_torrent(params)
            key = params.ti.info_hashes().v1.to_bytes().hex()
            handles[key], errors[key], replies[key] = h, [], 0
            return {"id": key}
        h = handles[request["id"]]
        if op == "status":
            status = h.status()
            endpoints = [ep for tracker in h.trackers() for ep in tracker["endpoints"]]
            return {
                "is_seeding": status.is_seeding,
                "progress": status.progress,
                "uploaded": status.total_payload_upload,
                "downloaded": status.total_payload_download,
                "num_peers": status.num_peers,
                "errors": errors[request["id"]],
                "replies": replies[request["id"]],
                "announcing": any(ih["updating"] for ep in endpoints for ih in ep["info_hashes"]),
                # (complete, incomplete, downloaded) of each endpoint's last reply, as the client shows them
                "figures": [
                    (ih["scrape_complete"], ih["scrape_incomplete"], ih["scrape_downloaded"])
                    for ep in endpoints
                    for ih in ep["info_hashes"]
                ],
            }
        if op == "reannounce":
            h.force_reannounce()
            return {}
        if op == "scrape":
            h.scrape_tracker()
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                for alert in ses.pop_alerts():
                    if isinstance(alert, lt.scrape_reply_alert) and alert.handle == h:
                        return {"complete": alert.complete, "incomplete": alert.incomplete}
                    if isinstance(alert, lt.scrape_failed_alert) and alert.handle == h:
                        return {"error": f"scrape failed: {alert.error_message()} ({alert.tracker_url()})"}
                time.sleep(0.05)
            return {"error": "no scrape reply in 20 s"}
        if op == "remove":
            ses.remove_torrent(h)
            del handles[request["id"]]
            return {}
        if op == "quit":
            return {}
        return {"error": f"unknown op {op!r}"}

    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = handle(request)
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()}
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()
        if request.get("op") == "quit":
            break


if __name__ == "__main__":
    main()
