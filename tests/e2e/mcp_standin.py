#!/usr/bin/env python3
"""A minimal MCP server over stdio (JSON-RPC 2.0, one message a line), for
tests: it answers initialize, lists one tool (`echo`) and calls it.
Standard library only; it opens no socket."""

import json
import sys


def main():
    for line in sys.stdin:
        try:
            msg = json.loads(line)
        except ValueError:
            continue
        if "id" not in msg:
            continue  # a notification
        method = msg.get("method")
        if method == "initialize":
            result = {"protocolVersion": msg.get("params", {}).get("protocolVersion", "2025-06-18"),
                      "capabilities": {"tools": {}}, "serverInfo": {"name": "mcp-standin", "version": "1.0.0"}}
        elif method == "tools/list":
            result = {"tools": [{"name": "echo", "description": "Echoes its text",
                                 "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}}}}]}
        elif method == "tools/call":
            text = msg.get("params", {}).get("arguments", {}).get("text", "")
            result = {"content": [{"type": "text", "text": text}]}
        elif method == "ping":
            result = {}
        else:
            print(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                              "error": {"code": -32601, "message": f"no method {method}"}}), flush=True)
            continue
        print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)


if __name__ == "__main__":
    main()
