"""Read-only views of what a backend holds, for the commands that show it: `edgeops show`
(live state), `edgeops eval` (a version's evaluation) and `edgeops models` (registry and
versions). Each builds plain data or text; only ``edgeops.ui`` writes it to the terminal."""
