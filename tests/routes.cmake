#  route cache tests (issues 7, 8): the matcher relays signals, chat and
#  typing from memory when it safely can (matcher/routes.c).
#  - unit.test_routes: the cache itself, no network.
#  - it.routes (tests/it/routes.test.mjs): pairs relay signals through the
#    cache (the matcher's /metrics shows it) exactly; skip and re-match
#    with signals in flight, with one matcher and with two: no signal of
#    an old match reaches a new partner; a stale cached route (frames
#    injected with megle-tap) reaches nobody; a forged target is refused
#    as before.
megle_unit_test (test_routes megle_matcher_routes)

find_program (NODE_EXECUTABLE node)
find_program (REDIS_SERVER_EXECUTABLE redis-server)
if (TARGET megle-gateway AND TARGET megle-matcher AND TARGET megle-tap
    AND NODE_EXECUTABLE AND REDIS_SERVER_EXECUTABLE)
    add_test (NAME it.routes
              COMMAND ${NODE_EXECUTABLE} --test --test-reporter=spec
                      ${CMAKE_SOURCE_DIR}/tests/it/routes.test.mjs
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
    set_tests_properties (it.routes PROPERTIES
        TIMEOUT 180
        RUN_SERIAL TRUE
        ENVIRONMENT
        "MEGLE_TAP_BIN=$<TARGET_FILE:megle-tap>;MEGLE_GATEWAY_BIN=$<TARGET_FILE:megle-gateway>;MEGLE_MATCHER_BIN=$<TARGET_FILE:megle-matcher>;MEGLE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
endif ()
