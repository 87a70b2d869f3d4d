#  common tests: config, ids, logger (Check suites, no network).
megle_unit_test (test_config megle_common)
megle_unit_test (test_id megle_common)
megle_unit_test (test_log megle_common PkgConfig::CJSON)
