#  Browser tests: headless Debian Chromium (driven by playwright-core from
#  tests/node_modules) against the real stack (redis-server, megle-matcher,
#  two megle-gateways serving web/). The test runs inside a network namespace
#  with only loopback up, so WebRTC uses 127.0.0.1 alone and nothing leaves
#  the machine (tests/netns.sh: unshare --net as root, or a user namespace
#  mapping root where root lacks CAP_NET_ADMIN, as in a container).

find_program (MEGLE_CHROMIUM chromium PATHS /usr/bin NO_DEFAULT_PATH)
find_program (MEGLE_NODE node)
find_program (MEGLE_UNSHARE unshare)
find_program (MEGLE_IP ip PATHS /usr/sbin /sbin /usr/bin /bin)
find_program (MEGLE_REDIS_SERVER redis-server)

set (_megle_browser_missing "")
foreach (_prog MEGLE_CHROMIUM MEGLE_NODE MEGLE_UNSHARE MEGLE_IP
         MEGLE_REDIS_SERVER)
    if (NOT ${_prog})
        list (APPEND _megle_browser_missing ${_prog})
    endif ()
endforeach ()
foreach (_target megle-gateway megle-matcher)
    if (NOT TARGET ${_target})
        list (APPEND _megle_browser_missing "target ${_target}")
    endif ()
endforeach ()
if (NOT EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/node_modules/playwright-core)
    list (APPEND _megle_browser_missing
          "tests/node_modules/playwright-core (run npm ci in tests/)")
endif ()

if (_megle_browser_missing)
    string (REPLACE ";" ", " _megle_browser_missing
            "${_megle_browser_missing}")
    message (STATUS "browser tests disabled: missing ${_megle_browser_missing}")
else ()
    #  One ctest per test file, each with its own private stack:
    #  browser.video (WebRTC), browser.chat (chat, typing, text mode, online
    #  count, no immediate re-match), browser.interests (interest matching
    #  and relaxation, with a short MEGLE_INTEREST_WAIT_MS).
    foreach (_name video chat interests)
        add_test (NAME browser.${_name}
                  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/netns.sh
                          ${MEGLE_NODE} --test ${_name}.test.mjs
                  WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}/browser)
        set_tests_properties (browser.${_name} PROPERTIES
            TIMEOUT 240
            RUN_SERIAL TRUE
            LABELS browser
            ENVIRONMENT
            "MEGLE_GATEWAY_BIN=$<TARGET_FILE:megle-gateway>;MEGLE_MATCHER_BIN=$<TARGET_FILE:megle-matcher>;MEGLE_SOURCE_DIR=${PROJECT_SOURCE_DIR};MEGLE_ARTIFACTS_DIR=${CMAKE_BINARY_DIR}/artifacts;MEGLE_CHROMIUM=${MEGLE_CHROMIUM}")
    endforeach ()
endif ()
