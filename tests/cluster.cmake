#  cluster tests (issue 8): see the file for what each one shows.
#
#  unit.test_redirect  - the MOVED/ASK/retry reply parser (Check, no network)
#  fuzz.redirect.*     - its fuzz target and corpus (tests/corpus/redirect)
#  it.core.cluster     - tests/it/core.test.mjs, unchanged, against a
#                        three-master Redis Cluster (MEGLE_TEST_REDIS=cluster:
#                        tests/lib/stack.mjs points the matcher at a node that
#                        does not own the {megle} slot, so MOVED is followed)
#  it.cluster          - tests/it/cluster.test.mjs: failover to a replica,
#                        slot migration (ASK) and a frozen Redis (the
#                        MEGLE_REDIS_TIMEOUT_MS deadline)

megle_unit_test (test_redirect megle_matcher_core)

#  redirect.c is compiled into the fuzzer itself so that libFuzzer's
#  coverage instrumentation sees the parser.
megle_fuzz_target (redirect
    SOURCES fuzz_redirect.c ${PROJECT_SOURCE_DIR}/matcher/redirect.c
    INCLUDES ${PROJECT_SOURCE_DIR}/matcher
    REPLAY_LIBS megle_matcher_core
    CORPUS corpus/redirect
    MAX_LEN 512)

find_program (NODE_EXECUTABLE node)
find_program (REDIS_SERVER_EXECUTABLE redis-server)
find_program (REDIS_CLI_EXECUTABLE redis-cli)

if (TARGET megle-gateway AND TARGET megle-matcher AND NODE_EXECUTABLE
    AND REDIS_SERVER_EXECUTABLE AND REDIS_CLI_EXECUTABLE)
    set (cluster_env
         "MEGLE_GATEWAY_BIN=$<TARGET_FILE:megle-gateway>;MEGLE_MATCHER_BIN=$<TARGET_FILE:megle-matcher>;MEGLE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
    add_test (NAME it.core.cluster
              COMMAND ${NODE_EXECUTABLE} --test --test-reporter=spec
                      ${CMAKE_SOURCE_DIR}/tests/it/core.test.mjs
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
    set_tests_properties (it.core.cluster PROPERTIES
        TIMEOUT 240
        ENVIRONMENT "${cluster_env};MEGLE_TEST_REDIS=cluster")
    add_test (NAME it.cluster
              COMMAND ${NODE_EXECUTABLE} --test --test-reporter=spec
                      ${CMAKE_SOURCE_DIR}/tests/it/cluster.test.mjs
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
    #  Four redis-servers, a matcher and gateways, with deadlines: alone.
    set_tests_properties (it.cluster PROPERTIES
        TIMEOUT 300 RUN_SERIAL TRUE
        ENVIRONMENT "${cluster_env}")
else ()
    message (STATUS "cluster tests: node, redis-server, redis-cli or the "
                    "binaries missing, it.core.cluster and it.cluster not "
                    "added")
endif ()
