#  bench.smoke: megle-bench against a real private stack (redis-server,
#  megle-matcher, 1 and 3 megle-gateways on loopback free ports, started
#  by scripts/bench.sh --smoke): small N, a few seconds per scenario. It
#  asserts only that every scenario runs and reports zero lost, duplicated
#  and misdelivered signals: no timing is asserted.

find_program (REDIS_SERVER_EXECUTABLE redis-server)
find_program (PYTHON3_EXECUTABLE python3)
find_program (CURL_EXECUTABLE curl)
if (NOT TARGET megle-bench OR NOT TARGET megle-gateway
    OR NOT TARGET megle-matcher)
    message (STATUS "bench.smoke: megle-bench/gateway/matcher targets "
                    "missing, not added")
elseif (NOT REDIS_SERVER_EXECUTABLE OR NOT PYTHON3_EXECUTABLE
        OR NOT CURL_EXECUTABLE)
    message (STATUS "bench.smoke: redis-server, python3 or curl not found, "
                    "not added")
else ()
    add_test (NAME bench.smoke
              COMMAND ${CMAKE_SOURCE_DIR}/scripts/bench.sh --smoke
                      --build ${CMAKE_BINARY_DIR})
    set_tests_properties (bench.smoke PROPERTIES
        LABELS bench
        TIMEOUT 120
        ENVIRONMENT "MEGLE_BENCH_NO_BUILD=1")
endif ()

#  bench.ceiling: tools/bench/ceiling.py --smoke against a private
#  redis-server: tiny counts; it checks that every script call the ceiling
#  times (single and batched) gets a well-formed reply, so that a change of
#  the scripts' arguments that breaks the ceilings fails here. No timing
#  is asserted.
find_program (REDIS_CLI_EXECUTABLE redis-cli)
if (REDIS_SERVER_EXECUTABLE AND REDIS_CLI_EXECUTABLE AND PYTHON3_EXECUTABLE)
    add_test (NAME bench.ceiling
              COMMAND ${PYTHON3_EXECUTABLE}
                      ${CMAKE_SOURCE_DIR}/tools/bench/ceiling.py --smoke
                      --root ${CMAKE_SOURCE_DIR}
                      --redis-server ${REDIS_SERVER_EXECUTABLE}
                      --batch 16,64)
    set_tests_properties (bench.ceiling PROPERTIES LABELS bench TIMEOUT 60)
endif ()

#  it.massclose: megle-bench opens 15,000 idle WebSockets to one gateway and
#  exits; the gateway must be back to zero connections within 30 s
#  (tests/massclose.sh says why). Skipped (77) when the open-file limit is
#  too low for that many sockets.
if (TARGET megle-bench AND TARGET megle-gateway AND TARGET megle-matcher
    AND REDIS_SERVER_EXECUTABLE AND PYTHON3_EXECUTABLE AND CURL_EXECUTABLE)
    add_test (NAME it.massclose
              COMMAND ${CMAKE_SOURCE_DIR}/tests/massclose.sh
                      $<TARGET_FILE:megle-gateway> $<TARGET_FILE:megle-matcher>
                      $<TARGET_FILE:megle-bench>)
    set_tests_properties (it.massclose PROPERTIES
        TIMEOUT 150 SKIP_RETURN_CODE 77 RUN_SERIAL TRUE)
endif ()
