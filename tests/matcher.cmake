#  matcher tests: the Lua scripts (the embedded strings megle-matcher runs)
#  and batch.lua (many of them in one call) against a private
#  redis-server that each suite starts and stops itself.

find_program (REDIS_SERVER redis-server)
add_executable (test_lua test_lua.c)
target_link_libraries (test_lua PRIVATE megle_matcher_core PkgConfig::HIREDIS
                       PkgConfig::CHECK project_options)
target_include_directories (test_lua PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
#  test_batch also runs matcher/batch.c over the store (group commit), and
#  the calls matcher/calls.c builds from frames.
add_executable (test_batch test_batch.c)
target_link_libraries (test_batch PRIVATE megle_matcher_store
                       megle_matcher_calls PkgConfig::CHECK project_options)
target_include_directories (test_batch PRIVATE ${CMAKE_CURRENT_SOURCE_DIR})
if (REDIS_SERVER)
    add_test (NAME redis.lua COMMAND test_lua ${REDIS_SERVER})
    set_tests_properties (redis.lua PROPERTIES TIMEOUT 120)
    add_test (NAME redis.batch COMMAND test_batch ${REDIS_SERVER})
    set_tests_properties (redis.batch PROPERTIES TIMEOUT 60)
endif ()
