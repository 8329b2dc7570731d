# omnichat_add_plugin(NAME SOURCES...)
# Builds libomnichat-NAME.so the way the host expects: the two C entry points
# its only exported symbols (a linker version script sees to the ones
# visibility cannot hide), every symbol resolved at link time.
set(_OMNICHAT_PLUGIN_MAP "${CMAKE_CURRENT_LIST_DIR}/omnichat_plugin.map")

function(omnichat_add_plugin name)
  add_library(omnichat-${name} MODULE ${ARGN})
  target_link_libraries(omnichat-${name} PRIVATE Omnichat::sdk)
  set_target_properties(omnichat-${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON
    LINK_DEPENDS "${_OMNICHAT_PLUGIN_MAP}")
  target_link_options(omnichat-${name} PRIVATE "LINKER:--no-undefined"
                      "LINKER:--version-script=${_OMNICHAT_PLUGIN_MAP}")
endfunction()
