#  gateway tests: the roster and the session (Check suites, no network).
megle_unit_test (test_roster megle_gateway_core)
megle_unit_test (test_keepalive megle_gateway_core)
megle_unit_test (test_session megle_gateway_core)
megle_unit_test (test_ratelimit megle_gateway_core)
megle_unit_test (test_admission megle_gateway_core)
