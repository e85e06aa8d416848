"""The detections as Elasticsearch runs them: each rule of
detections/rules.ndjson (made by `make detections` from the Sigma rules)
is its Lucene query in a query_string over its index patterns, as Kibana's
rule does. Standard library only (the e2e suite does not need pySigma)."""

import json

import harness as h

RULES_NDJSON = h.ROOT / "detections" / "rules.ndjson"
RULES_DIR = h.ROOT / "detections" / "rules"


def rules():
    """[(rule file stem, Elastic Security rule)] in the order of the NDJSON."""
    stems = {}
    for f in sorted(RULES_DIR.glob("*.yml")):
        for line in f.read_text().splitlines():
            if line.startswith("id: "):
                stems[line[4:].strip()] = f.stem
    out = []
    for line in RULES_NDJSON.read_text().splitlines():
        rule = json.loads(line)
        out.append((stems[rule["rule_id"]], rule))
    return out


def matches(es, rule, scope=None, size=500):
    """The documents the rule's query finds (within `scope`, a query)."""
    query = {"bool": {"must": [{"query_string": {"query": rule["query"]}}],
                      "filter": [scope] if scope else []}}
    index = ",".join(rule["index"])
    h.http("POST", f"{es.url}/{index}/_refresh?ignore_unavailable=true&allow_no_indices=true")
    status, body = h.http("POST", f"{es.url}/{index}/_search?ignore_unavailable=true&allow_no_indices=true",
                          {"query": query, "size": size})
    if status != 200:
        raise RuntimeError(f"{rule['name']}: {status} {body[:2000]!r}")
    return [{"_index": x["_index"], **x["_source"]} for x in json.loads(body)["hits"]["hits"]]


def print_fired(es, scope=None, out=print):
    """`make run`: which rules fire on the documents (a line per rule)."""
    out("\nDetections (detections/rules.ndjson) on these documents:")
    for stem, rule in rules():
        hits = matches(es, rule, scope)
        out(f"  {stem:<42} {'fires on ' + str(len(hits)) + ' documents' if hits else 'does not fire'}")
