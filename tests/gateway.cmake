#  gateway tests: the roster, the session, keep-alive, the online count
#  and more (Check suites, no network).
megle_unit_test (test_roster megle_gateway_core)
megle_unit_test (test_keepalive megle_gateway_core)
megle_unit_test (test_online megle_gateway_core)
megle_unit_test (test_listener megle_gateway_core)
#  listener.c lives in the executable (it speaks lws); the test builds it in.
target_sources (test_listener PRIVATE ${CMAKE_SOURCE_DIR}/gateway/listener.c)
target_link_libraries (test_listener PRIVATE PkgConfig::LWS)
megle_unit_test (test_session megle_gateway_core)
megle_unit_test (test_ratelimit megle_gateway_core)
megle_unit_test (test_admission megle_gateway_core)
