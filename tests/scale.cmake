#  scale tests (issue 8): several matchers behind every gateway, gateways
#  sharing one port.
#  - unit.test_matchers: the rendezvous choice of a session's matcher and
#    the live/dead transitions (gateway/matchers.c), no network.
#  - it.scale (tests/it/scale.test.mjs): three gateways, two matchers, one
#    Redis: pairs across gateways exchanging signals while a matcher is
#    killed and restarted; skip and re-match across the two matchers with
#    signals in flight; two gateways on one port with MEGLE_REUSEPORT=1.
megle_unit_test (test_matchers megle_gateway_core)

find_program (NODE_EXECUTABLE node)
find_program (REDIS_SERVER_EXECUTABLE redis-server)
if (TARGET megle-gateway AND TARGET megle-matcher AND NODE_EXECUTABLE
    AND REDIS_SERVER_EXECUTABLE)
    add_test (NAME it.scale
              COMMAND ${NODE_EXECUTABLE} --test --test-reporter=spec
                      ${CMAKE_SOURCE_DIR}/tests/it/scale.test.mjs
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
    #  Five servers and hundreds of clients: the machine to itself.
    set_tests_properties (it.scale PROPERTIES
        TIMEOUT 240
        RUN_SERIAL TRUE
        ENVIRONMENT
        "MEGLE_GATEWAY_BIN=$<TARGET_FILE:megle-gateway>;MEGLE_MATCHER_BIN=$<TARGET_FILE:megle-matcher>;MEGLE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif ()
