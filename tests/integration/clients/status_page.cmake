# The status page's headless-Chromium test (status_page_chromium.py, Selenium from build/venv-clients,
# see scripts/test-clients.sh). It exits 77 -- shown by CTest as skipped, with the reason in its
# output -- where selenium, chromium, chromedriver or the libtorch plugin is missing.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_Interpreter_FOUND)
  add_test(NAME serve_status_page_chromium
           COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/status_page_chromium.py
                   --ftdr $<TARGET_FILE:ftdr> --plugins ${FTDR_PLUGIN_BUILD_DIR}
                   --source ${PROJECT_SOURCE_DIR} --work ${CMAKE_CURRENT_BINARY_DIR}/status_page_chromium)
  set_tests_properties(serve_status_page_chromium PROPERTIES SKIP_RETURN_CODE 77 TIMEOUT 300
                       LABELS integration RUN_SERIAL TRUE)
endif()
