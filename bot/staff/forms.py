"""The workbench's forms (Flask-WTF: every POST form carries the CSRF token)."""
from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import (BooleanField, DateField, HiddenField, IntegerField, PasswordField, SelectField, StringField,
                     TextAreaField, TimeField)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from bot.services.casework import MAX_NOTE, MAX_REPLY

REQUIRED = "请填写此项"


def choices(pairs) -> list[SelectChoice]:
    """(value, label) pairs as WTForms 3.3 wants them."""
    return [SelectChoice(value, label) for value, label in pairs]


ROLES = choices([("staff", "工作人员"), ("admin", "管理员")])


class LoginForm(FlaskForm):
    login = StringField("登录名", validators=[DataRequired(REQUIRED), Length(max=64)])
    password = PasswordField("密码", validators=[DataRequired(REQUIRED), Length(max=256)])


class ActionForm(FlaskForm):
    """A button that changes something: only the CSRF token."""


class ReplyForm(FlaskForm):
    text = TextAreaField("回复职工", validators=[DataRequired("回复内容不能为空"), Length(max=MAX_REPLY)])
    token = HiddenField()


class NoteForm(FlaskForm):
    body = TextAreaField("内部备注（职工看不到）", validators=[DataRequired("备注不能为空"), Length(max=MAX_NOTE)])


class CloseForm(FlaskForm):
    message = TextAreaField("结案说明（会发给职工，可不填）", validators=[Length(max=MAX_REPLY)])


class AssignForm(FlaskForm):
    to = SelectField("分配给", coerce=int)


class CannedForm(FlaskForm):
    title = StringField("标题", validators=[DataRequired(REQUIRED), Length(max=64)])
    body = TextAreaField("内容", validators=[DataRequired(REQUIRED), Length(max=600)])


class RejectForm(FlaskForm):
    reason = SelectField("不通过原因", validate_choice=False)
    other = TextAreaField("其他原因（写给职工看）", validators=[Length(max=300)])


class FilterForm(FlaskForm):
    """The application list's filters: a GET form, so no CSRF token."""

    class Meta:
        csrf = False

    status = SelectField("状态", validate_choice=False)
    district = SelectField("所在区", validate_choice=False)
    industry = SelectField("行业", validate_choice=False)
    since = DateField("提交日期从", validators=[Optional()])
    until = DateField("到", validators=[Optional()])
    q = StringField("搜索", validators=[Length(max=64)])


class StaffCreateForm(FlaskForm):
    login = StringField("登录名", validators=[DataRequired(REQUIRED), Length(max=32)])
    name = StringField("姓名", validators=[DataRequired(REQUIRED), Length(max=64)])
    role = SelectField("角色", choices=ROLES)
    password = PasswordField("初始密码（留空则自动生成）", validators=[Optional(), Length(min=10, max=256)])


class StaffUpdateForm(FlaskForm):
    role = SelectField("角色", choices=ROLES)
    active = BooleanField("启用")
    unlock = BooleanField("解除锁定")
    password = PasswordField("重设密码（留空不改）", validators=[Optional(), Length(min=10, max=256)])


class PasswordForm(FlaskForm):
    current = PasswordField("当前密码", validators=[DataRequired(REQUIRED)])
    new = PasswordField("新密码（至少 10 位）", validators=[DataRequired(REQUIRED), Length(min=10, max=256)])


# -- issue 12: the home-office roster, the legal-aid desk, insights, privacy requests -------------
class CancelBookingForm(FlaskForm):
    reason = StringField("取消原因（会告诉职工，可不填）", validators=[Length(max=200)])


class SlotForm(FlaskForm):
    day = DateField("日期", validators=[DataRequired("请填写日期")])
    start = TimeField("开始", validators=[DataRequired("请填写开始时间")])
    end = TimeField("结束", validators=[DataRequired("请填写结束时间")])
    place = StringField("地点", validators=[Length(max=128)])
    mode = SelectField("方式", choices=choices([("in_person", "现场"), ("online", "线上")]))
    capacity = IntegerField("名额", default=3, validators=[InputRequired("请填写名额"), NumberRange(1, 50, "名额要在 1 到 50 之间")])


class CapacityForm(FlaskForm):
    capacity = IntegerField("名额", validators=[InputRequired("请填写名额"), NumberRange(1, 50, "名额要在 1 到 50 之间")])


class ExampleForm(FlaskForm):
    """A worker's question into the knowledge base: as an example of an entry, or out of scope."""

    text = HiddenField(validators=[DataRequired("问题内容是空的"), Length(max=2000)])
    faq_id = SelectField("归入条目", validate_choice=False)
