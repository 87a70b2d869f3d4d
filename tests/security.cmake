#  security tests (issue 6): it.curve runs the real stack with CURVE on the
#  bus (keys from megle-keygen, rogue clients through megle-tap);
#  it.wsfuzz throws random and malformed WebSocket frames at a live
#  gateway and checks that it still serves a normal match.

find_program (NODE_EXECUTABLE node)
find_program (REDIS_SERVER_EXECUTABLE redis-server)
if (NOT TARGET megle-gateway OR NOT TARGET megle-matcher
    OR NOT TARGET megle-tap OR NOT TARGET megle-keygen)
    message (STATUS "security tests: megle-gateway/-matcher/-tap/-keygen "
                    "targets missing, not added")
elseif (NOT NODE_EXECUTABLE OR NOT REDIS_SERVER_EXECUTABLE)
    message (STATUS "security tests: node or redis-server not found, not "
                    "added")
else ()
    foreach (name curve wsfuzz)
        add_test (NAME it.${name}
                  COMMAND ${NODE_EXECUTABLE} --test --test-reporter=spec
                          ${CMAKE_SOURCE_DIR}/tests/it/${name}.test.mjs
                  WORKING_DIRECTORY ${CMAKE_SOURCE_DIR}/tests)
        set_tests_properties (it.${name} PROPERTIES
            TIMEOUT 180
            ENVIRONMENT
            "MEGLE_KEYGEN_BIN=$<TARGET_FILE:megle-keygen>;MEGLE_TAP_BIN=$<TARGET_FILE:megle-tap>;MEGLE_GATEWAY_BIN=$<TARGET_FILE:megle-gateway>;MEGLE_MATCHER_BIN=$<TARGET_FILE:megle-matcher>;MEGLE_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
    endforeach ()
endif ()
