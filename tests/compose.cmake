#  compose tests (label "compose"): compose/ for real.
#  compose.haproxy: compose/haproxy.cfg run by a real haproxy in front of
#    three megle-gateway processes on loopback (no containers).
#  compose.stack: tests/compose/compose.sh builds the images, runs the
#    compose stack with --scale gateway=3, drives clients through the
#    balancer, scales to 4 and tears down. Needs a Docker engine (started
#    by ../shared/tools/docker-engine when present); skipped (77) without.

find_program (MEGLE_COMPOSE_NODE node)
find_program (MEGLE_COMPOSE_REDIS redis-server)
find_program (MEGLE_HAPROXY haproxy PATHS /usr/sbin /sbin)
find_program (MEGLE_BASH bash)

if (NOT TARGET megle-gateway OR NOT TARGET megle-matcher
    OR NOT MEGLE_COMPOSE_NODE OR NOT MEGLE_COMPOSE_REDIS OR NOT MEGLE_HAPROXY)
    message (STATUS "compose.haproxy: needs the megle-gateway/megle-matcher "
                    "targets, node, redis-server and haproxy; not added")
else ()
    add_test (NAME compose.haproxy
              COMMAND ${MEGLE_COMPOSE_NODE} --test --test-reporter=spec
                      ${CMAKE_SOURCE_DIR}/tests/compose/haproxy.test.mjs
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
    set_tests_properties (compose.haproxy PROPERTIES
        TIMEOUT 180
        LABELS compose
        ENVIRONMENT
        "MEGLE_GATEWAY_BIN=$<TARGET_FILE:megle-gateway>;MEGLE_MATCHER_BIN=$<TARGET_FILE:megle-matcher>;MEGLE_SOURCE_DIR=${CMAKE_SOURCE_DIR};MEGLE_HAPROXY_BIN=${MEGLE_HAPROXY}")
endif ()

if (MEGLE_BASH AND MEGLE_COMPOSE_NODE)
    add_test (NAME compose.stack
              COMMAND ${MEGLE_BASH} ${CMAKE_SOURCE_DIR}/tests/compose/compose.sh
              WORKING_DIRECTORY ${CMAKE_SOURCE_DIR})
    set_tests_properties (compose.stack PROPERTIES
        TIMEOUT 1500
        RUN_SERIAL TRUE
        LABELS compose
        SKIP_RETURN_CODE 77)
endif ()
