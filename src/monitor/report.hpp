// relay-monitor report: one self-contained HTML page of a recorded session.
#pragma once

#include <filesystem>
#include <string>

#include "monitor/report_model.hpp"

namespace relay::monitor {

// The page template (report_page.html, built into the program).
const char* report_page_template();

// The model as the JSON object the page's script reads.
std::string report_data_json(const ReportModel& model);

// The page with the data in it.
std::string render_report(const ReportModel& model);

// Reads `recording`, writes the page to `output`; returns an error line or "".
std::string write_report(const std::filesystem::path& recording, const std::filesystem::path& output);

}  // namespace relay::monitor
