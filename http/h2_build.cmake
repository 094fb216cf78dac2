# HTTP/2 (h2c) for berth_http: frames, HPACK, the connection state machine (no Boost), and the
# Asio server/client adapters. Included from http/CMakeLists.txt.
add_library(berth_http2 STATIC h2_frame.cc h2_hpack.cc h2_session.cc h2_util.cc h2_server.cc h2_body.cc
            h2_client.cc)
target_link_libraries(berth_http2 PUBLIC berth_http)
target_compile_options(berth_http2 PRIVATE -Wno-mismatched-new-delete)
berth_test(http_h2_test unit SOURCES h2_test.cc h2_server_test.cc LIBS berth_http2)
target_compile_options(http_h2_test PRIVATE -Wno-mismatched-new-delete)
