# ftdr_add_plugin(<name> SOURCES ... [LIBRARIES ...])
# Builds plugins/<name> as ftdr_plugin_<name>.so: a MODULE library with hidden visibility (only the
# two exports of its FTDR_DECLARE_PLUGIN line are visible), placed in the build tree's plugin folder
# and installed to lib/ftdr/plugins.
function(ftdr_add_plugin name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBRARIES" ${ARGN})
  set(target ftdr_plugin_${name})
  add_library(${target} MODULE ${ARG_SOURCES})
  target_link_libraries(${target} PRIVATE ftdr::sdk ${ARG_LIBRARIES})
  set_target_properties(${target} PROPERTIES
    PREFIX ""
    OUTPUT_NAME ${target}
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LIBRARY_OUTPUT_DIRECTORY "${FTDR_PLUGIN_BUILD_DIR}")
  install(TARGETS ${target} LIBRARY DESTINATION "${FTDR_PLUGIN_INSTALL_DIR}" COMPONENT plugins)
  set_property(GLOBAL APPEND PROPERTY FTDR_PLUGIN_TARGETS ${target})
endfunction()
