#  megle-tap tests: the Check suite of its filters and record files (no
#  network), and it.tap, which runs the real stack (redis-server, matcher
#  with a tap socket, two gateways, WebSocket clients) with megle-tap as a
#  child process (tests/it/tap.test.mjs).

megle_unit_test (test_tap_filter megle_tap_core)

find_program (NODE_EXECUTABLE node)
find_program (REDIS_SERVER_EXECUTABLE redis-server)
if (NOT TARGET megle-gateway OR NOT TARGET megle-matcher
    OR NOT TARGET megle-tap)
    message (STATUS "it.tap: megle-gateway/megle-matcher/megle-tap targets "
                    "missing, not added")
elseif (NOT NODE_EXECUTABLE OR NOT REDIS_SERVER_EXECUTABLE)
    message (STATUS "it.tap: node or redis-server not found, not added")
else ()
    add_test (NAME it.tap
              COMMAND ${NODE_EXECUTABLE} --test --test-reporter=spec
                      ${CMAKE_SOURCE_DIR}/tests/it/tap.test.mjs
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
    set_tests_properties (it.tap PROPERTIES
        TIMEOUT 180
        ENVIRONMENT
        "MEGLE_TAP_BIN=$<TARGET_FILE:megle-tap>;MEGLE_GATEWAY_BIN=$<TARGET_FILE:megle-gateway>;MEGLE_MATCHER_BIN=$<TARGET_FILE:megle-matcher>;MEGLE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif ()
