"""What a user does, written once for the scripts, the benchmarks and the tests: connect to a
cloud of a clouds.yaml (clouds) and work on any OpenStack cloud through openstacksdk (networks),
and run ``interstack serve`` itself as a process (served). Like certify, it speaks only the
standard API: no gateway internals."""
