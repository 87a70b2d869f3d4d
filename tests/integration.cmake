#  integration tests: node:test files in tests/it/ that run the real
#  processes (a private redis-server, megle-matcher, megle-gateway x N) on
#  loopback and drive them with WebSocket clients (npm ws, installed in
#  tests/node_modules by `npm ci --prefix tests`). One ctest per file; each
#  file starts and stops its own stack (tests/lib/stack.mjs).

find_program (NODE_EXECUTABLE node)
find_program (REDIS_SERVER_EXECUTABLE redis-server)

if (NOT TARGET megle-gateway OR NOT TARGET megle-matcher)
    message (STATUS "integration tests: megle-gateway/megle-matcher targets "
                    "missing, not added")
elseif (NOT NODE_EXECUTABLE OR NOT REDIS_SERVER_EXECUTABLE)
    message (STATUS "integration tests: node or redis-server not found, "
                    "not added")
else ()
    foreach (name core load faults gomegle experience ops abuse)
        add_test (NAME it.${name}
                  COMMAND ${NODE_EXECUTABLE} --test --test-reporter=spec
                          ${CMAKE_SOURCE_DIR}/tests/it/${name}.test.mjs
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
        set_tests_properties (it.${name} PROPERTIES
            TIMEOUT 180
            ENVIRONMENT
            "MEGLE_GATEWAY_BIN=$<TARGET_FILE:megle-gateway>;MEGLE_MATCHER_BIN=$<TARGET_FILE:megle-matcher>;MEGLE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
    endforeach ()
    #  The load test wants the machine (2 cores) to itself.
    set_tests_properties (it.load PROPERTIES RUN_SERIAL TRUE)
endif ()
