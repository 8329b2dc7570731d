include("${CMAKE_CURRENT_LIST_DIR}/OmnichatSDKTargets.cmake")
include("${CMAKE_CURRENT_LIST_DIR}/OmnichatPlugin.cmake")
