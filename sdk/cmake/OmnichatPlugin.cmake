# omnichat_add_plugin(NAME SOURCES...)
# Builds libomnichat-NAME.so the way the host expects: only the two C entry
# points exported, every symbol resolved at link time.
function(omnichat_add_plugin name)
  add_library(omnichat-${name} MODULE ${ARGN})
  target_link_libraries(omnichat-${name} PRIVATE Omnichat::sdk)
  set_target_properties(omnichat-${name} PROPERTIES
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    C_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(omnichat-${name} PRIVATE "LINKER:--no-undefined")
endfunction()
