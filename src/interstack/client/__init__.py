"""What a user does, written once for the demo, the benchmarks and the tests: work on any
OpenStack cloud through openstacksdk (networks), and run ``interstack serve`` itself as a
process (served). Like certify, it speaks only the standard API: no gateway internals."""
