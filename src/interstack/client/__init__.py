"""What a user of any OpenStack cloud does through openstacksdk, written once for the demo, the
benchmarks and the tests. Like certify, it speaks only the standard API."""
